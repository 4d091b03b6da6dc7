package dev.sdcfg.model.vae;

import ai.djl.ndarray.NDArray;
import dev.sdcfg.model.nn.Downsample2D;
import dev.sdcfg.model.nn.ParamLoader;
import dev.sdcfg.model.nn.ResnetBlock2D;

import java.util.function.BiConsumer;

/**
 * diffusers DownEncoderBlock2D: {@code layers} resnets (the first maps in → out channels) and, except in the last
 * block, a stride-2 conv downsampler with padding 0 (pad right/bottom by one pixel first).
 */
final class DownEncoderBlock {
    private final ResnetBlock2D[] resnets;
    private final Downsample2D downsampler;

    DownEncoderBlock(ParamLoader p, long in, long out, int layers, int groups, boolean addDownsample) {
        this.resnets = new ResnetBlock2D[layers];
        for (int i = 0; i < layers; i++) {
            resnets[i] = new ResnetBlock2D(p.child("resnets." + i), i == 0 ? in : out, out, 0, groups,
                    AutoencoderKL.EPS, "default", 1.0);
        }
        this.downsampler = addDownsample ? new Downsample2D(p.child("downsamplers.0"), out, out, 0) : null;
    }

    NDArray forward(NDArray x, String name, BiConsumer<String, NDArray> tap) {
        NDArray h = x;
        for (int i = 0; i < resnets.length; i++) {
            h = AutoencoderKL.tap(tap, name + ".resnets." + i, resnets[i].forward(h, null));
        }
        if (downsampler != null) {
            h = AutoencoderKL.tap(tap, name + ".downsamplers.0", downsampler.forward(h));
        }
        return h;
    }
}
