package dev.sdcfg.model.unet;

import ai.djl.ndarray.NDArray;
import dev.sdcfg.model.nn.Downsample2D;
import dev.sdcfg.model.nn.ParamLoader;
import dev.sdcfg.model.nn.ResnetBlock2D;

import java.util.List;

/** diffusers {@code DownBlock2D}: resnets, then an optional conv downsampler; every output is a skip tensor. */
public final class DownBlock2D implements DownBlock {

    private final ResnetBlock2D[] resnets;
    private final Downsample2D downsampler;

    DownBlock2D(ParamLoader p, long in, long out, int numLayers, boolean addDownsample, int downsamplePadding,
                BlockSettings s) {
        this.resnets = new ResnetBlock2D[numLayers];
        for (int i = 0; i < numLayers; i++) {
            resnets[i] = new ResnetBlock2D(p.child("resnets." + i), i == 0 ? in : out, out, s.tembChannels(),
                    s.groups(), s.eps(), s.resnetTimeScaleShift(), 1.0);
        }
        this.downsampler = addDownsample ? new Downsample2D(p.child("downsamplers.0"), out, out, downsamplePadding) : null;
    }

    @Override
    public NDArray forward(NDArray x, NDArray tembAct, NDArray context, List<NDArray> skips) {
        NDArray h = x;
        for (ResnetBlock2D r : resnets) {
            h = r.forward(h, tembAct);
            skips.add(h);
        }
        if (downsampler != null) {
            h = downsampler.forward(h);
            skips.add(h);
        }
        return h;
    }
}
