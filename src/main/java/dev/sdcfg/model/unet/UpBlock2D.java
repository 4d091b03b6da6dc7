package dev.sdcfg.model.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import dev.sdcfg.model.nn.ParamLoader;
import dev.sdcfg.model.nn.ResnetBlock2D;
import dev.sdcfg.model.nn.Upsample2D;

import java.util.List;

/**
 * diffusers {@code UpBlock2D}: for each resnet, concatenate the last skip tensor on channels and apply the resnet;
 * then an optional nearest upsampler + conv.
 */
public final class UpBlock2D implements UpBlock {

    private final ResnetBlock2D[] resnets;
    private final Upsample2D upsampler;

    UpBlock2D(ParamLoader p, long in, long prevOut, long out, int numLayers, boolean addUpsample, BlockSettings s) {
        this.resnets = new ResnetBlock2D[numLayers];
        for (int i = 0; i < numLayers; i++) {
            long resSkip = i == numLayers - 1 ? in : out;
            long resIn = i == 0 ? prevOut : out;
            resnets[i] = new ResnetBlock2D(p.child("resnets." + i), resIn + resSkip, out, s.tembChannels(), s.groups(),
                    s.eps(), s.resnetTimeScaleShift(), 1.0);
        }
        this.upsampler = addUpsample ? new Upsample2D(p.child("upsamplers.0"), out, out) : null;
    }

    @Override
    public NDArray forward(NDArray x, List<NDArray> skips, NDArray tembAct, NDArray context, long upHeight,
                           long upWidth) {
        NDArray h = x;
        for (ResnetBlock2D r : resnets) {
            NDArray skip = skips.remove(skips.size() - 1);
            h = r.forward(NDArrays.concat(new NDList(h, skip), 1), tembAct);
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
