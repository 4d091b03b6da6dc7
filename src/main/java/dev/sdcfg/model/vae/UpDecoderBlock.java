package dev.sdcfg.model.vae;

import ai.djl.ndarray.NDArray;
import dev.sdcfg.model.nn.ParamLoader;
import dev.sdcfg.model.nn.ResnetBlock2D;
import dev.sdcfg.model.nn.Upsample2D;

import java.util.function.BiConsumer;

/**
 * diffusers UpDecoderBlock2D: {@code layers} resnets (the first maps in → out channels) and, except in the last
 * block, a nearest ×2 upsample followed by a 3×3 conv.
 */
final class UpDecoderBlock {
    private final ResnetBlock2D[] resnets;
    private final Upsample2D upsampler;

    UpDecoderBlock(ParamLoader p, long in, long out, int layers, int groups, boolean addUpsample) {
        this.resnets = new ResnetBlock2D[layers];
        for (int i = 0; i < layers; i++) {
            resnets[i] = new ResnetBlock2D(p.child("resnets." + i), i == 0 ? in : out, out, 0, groups,
                    AutoencoderKL.EPS, "default", 1.0);
        }
        this.upsampler = addUpsample ? new Upsample2D(p.child("upsamplers.0"), out, out) : null;
    }

    NDArray forward(NDArray x, String name, BiConsumer<String, NDArray> tap) {
        NDArray h = x;
        for (int i = 0; i < resnets.length; i++) {
            h = AutoencoderKL.tap(tap, name + ".resnets." + i, resnets[i].forward(h, null));
        }
        if (upsampler != null) {
            h = AutoencoderKL.tap(tap, name + ".upsamplers.0", upsampler.forward(h, 0, 0));
        }
        return h;
    }
}
