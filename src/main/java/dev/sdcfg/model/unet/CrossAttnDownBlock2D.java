package dev.sdcfg.model.unet;

import ai.djl.ndarray.NDArray;
import dev.sdcfg.model.nn.Downsample2D;
import dev.sdcfg.model.nn.ParamLoader;
import dev.sdcfg.model.nn.ResnetBlock2D;

import java.util.List;

/**
 * diffusers {@code CrossAttnDownBlock2D}: (resnet → Transformer2DModel) × layers, then an optional conv downsampler;
 * each pair's output and the downsampler's are skip tensors.
 */
public final class CrossAttnDownBlock2D implements DownBlock {

    private final ResnetBlock2D[] resnets;
    private final Transformer2DModel[] attentions;
    private final Downsample2D downsampler;

    /** @param transformerLayers transformer depth of each layer's attention ({@code numLayers} entries) */
    CrossAttnDownBlock2D(ParamLoader p, long in, long out, int numLayers, int[] transformerLayers, int heads,
                         long crossAttentionDim, boolean onlyCrossAttention, boolean addDownsample,
                         int downsamplePadding, BlockSettings s) {
        this.resnets = new ResnetBlock2D[numLayers];
        this.attentions = new Transformer2DModel[numLayers];
        for (int i = 0; i < numLayers; i++) {
            resnets[i] = new ResnetBlock2D(p.child("resnets." + i), i == 0 ? in : out, out, s.tembChannels(),
                    s.groups(), s.eps(), s.resnetTimeScaleShift(), 1.0);
            attentions[i] = new Transformer2DModel(p.child("attentions." + i), heads, out / heads, out,
                    transformerLayers[i], crossAttentionDim, s.groups(), s.useLinearProjection(),
                    onlyCrossAttention, s.upcastAttention(), s.attentionSliceSize());
        }
        this.downsampler = addDownsample ? new Downsample2D(p.child("downsamplers.0"), out, out, downsamplePadding) : null;
    }

    @Override
    public NDArray forward(NDArray x, NDArray tembAct, NDArray context, List<NDArray> skips) {
        NDArray h = x;
        for (int i = 0; i < resnets.length; i++) {
            h = attentions[i].forward(resnets[i].forward(h, tembAct), context);
            skips.add(h);
        }
        if (downsampler != null) {
            h = downsampler.forward(h);
            skips.add(h);
        }
        return h;
    }
}
