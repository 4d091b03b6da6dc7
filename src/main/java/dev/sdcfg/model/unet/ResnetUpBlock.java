package dev.sdcfg.model.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import dev.sdcfg.model.nn.ParamLoader;
import dev.sdcfg.model.nn.ResnetBlock2D;
import dev.sdcfg.model.nn.Upsample2D;

import java.util.List;

/**
 * What diffusers' {@code UpBlock2D} and {@code CrossAttnUpBlock2D} share: per layer, the last skip tensor is
 * concatenated on channels and passed through {@code resnets.i} (whose input width counts the skip), then
 * {@link #afterResnet} (the cross-attention block's transformer); finally an optional nearest upsampler + conv.
 */
abstract class ResnetUpBlock implements UpBlock {

    protected final ResnetBlock2D[] resnets;
    private final Upsample2D upsampler;

    ResnetUpBlock(ParamLoader p, long in, long prevOut, long out, int numLayers, boolean addUpsample, BlockSettings s) {
        this.resnets = new ResnetBlock2D[numLayers];
        for (int i = 0; i < numLayers; i++) {
            long resSkip = i == numLayers - 1 ? in : out;
            long resIn = i == 0 ? prevOut : out;
            resnets[i] = new ResnetBlock2D(p.child("resnets." + i), resIn + resSkip, out, s.tembChannels(), s.groups(),
                    s.eps(), s.resnetTimeScaleShift(), 1.0);
        }
        this.upsampler = addUpsample ? new Upsample2D(p.child("upsamplers.0"), out, out) : null;
    }

    /** What follows {@code resnets.i} in layer i (nothing by default). */
    protected NDArray afterResnet(int i, NDArray h, NDArray context) {
        return h;
    }

    @Override
    public final NDArray forward(NDArray x, List<NDArray> skips, NDArray tembAct, NDArray context, long upHeight,
                                 long upWidth) {
        NDArray h = x;
        for (int i = 0; i < resnets.length; i++) {
            NDArray skip = skips.remove(skips.size() - 1);
            h = resnets[i].forward(NDArrays.concat(new NDList(h, skip), 1), tembAct);
            h = afterResnet(i, h, context);
        }
        return upsampler != null ? upsampler.forward(h, upHeight, upWidth) : h;
    }

    @Override
    public final int numResnets() {
        return resnets.length;
    }

    @Override
    public final boolean hasUpsampler() {
        return upsampler != null;
    }
}
