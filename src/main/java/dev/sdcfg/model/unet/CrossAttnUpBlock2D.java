package dev.sdcfg.model.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import dev.sdcfg.model.nn.ParamLoader;
import dev.sdcfg.model.nn.ResnetBlock2D;
import dev.sdcfg.model.nn.Upsample2D;

import java.util.List;

/**
 * diffusers {@code CrossAttnUpBlock2D}: for each layer, concatenate the last skip tensor on channels, resnet,
 * Transformer2DModel; then an optional nearest upsampler + conv.
 */
public final class CrossAttnUpBlock2D implements UpBlock {

    private final ResnetBlock2D[] resnets;
    private final Transformer2DModel[] attentions;
    private final Upsample2D upsampler;

    /** @param transformerLayers transformer depth of each layer's attention ({@code numLayers} entries) */
    CrossAttnUpBlock2D(ParamLoader p, long in, long prevOut, long out, int numLayers, int[] transformerLayers,
                       int heads, long crossAttentionDim, boolean onlyCrossAttention, boolean addUpsample,
                       BlockSettings s) {
        this.resnets = new ResnetBlock2D[numLayers];
        this.attentions = new Transformer2DModel[numLayers];
        for (int i = 0; i < numLayers; i++) {
            long resSkip = i == numLayers - 1 ? in : out;
            long resIn = i == 0 ? prevOut : out;
            resnets[i] = new ResnetBlock2D(p.child("resnets." + i), resIn + resSkip, out, s.tembChannels(), s.groups(),
                    s.eps(), s.resnetTimeScaleShift(), 1.0);
            attentions[i] = new Transformer2DModel(p.child("attentions." + i), heads, out / heads, out,
                    transformerLayers[i], crossAttentionDim, s.groups(), s.useLinearProjection(),
                    onlyCrossAttention, s.upcastAttention(), s.attentionSliceSize());
        }
        this.upsampler = addUpsample ? new Upsample2D(p.child("upsamplers.0"), out, out) : null;
    }

    @Override
    public NDArray forward(NDArray x, List<NDArray> skips, NDArray tembAct, NDArray context, long upHeight,
                           long upWidth) {
        NDArray h = x;
        for (int i = 0; i < resnets.length; i++) {
            NDArray skip = skips.remove(skips.size() - 1);
            h = resnets[i].forward(NDArrays.concat(new NDList(h, skip), 1), tembAct);
            h = attentions[i].forward(h, context);
        }
        return upsampler != null ? upsampler.forward(h, upHeight, upWidth) : h;
    }

    @Override
    public int numResnets() {
        return resnets.length;
    }

    @Override
    public boolean hasUpsampler() {
        return upsampler != null;
    }
}
