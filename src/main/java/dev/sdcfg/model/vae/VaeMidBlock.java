package dev.sdcfg.model.vae;

import ai.djl.ndarray.NDArray;
import dev.sdcfg.model.nn.ParamLoader;
import dev.sdcfg.model.nn.ResnetBlock2D;

import java.util.function.BiConsumer;

/** diffusers UNetMidBlock2D as the VAE builds it: resnet → (attention) → resnet, no time embedding, eps 1e-6. */
final class VaeMidBlock {
    private final ResnetBlock2D first;
    private final VaeAttentionBlock attention;
    private final ResnetBlock2D second;

    VaeMidBlock(ParamLoader p, long channels, int groups, boolean addAttention) {
        this.first = new ResnetBlock2D(p.child("resnets.0"), channels, channels, 0, groups, AutoencoderKL.EPS,
                "default", 1.0);
        this.attention = addAttention
                ? new VaeAttentionBlock(p.child("attentions.0"), channels, groups, AutoencoderKL.EPS) : null;
        this.second = new ResnetBlock2D(p.child("resnets.1"), channels, channels, 0, groups, AutoencoderKL.EPS,
                "default", 1.0);
    }

    NDArray forward(NDArray x, String name, BiConsumer<String, NDArray> tap) {
        NDArray h = AutoencoderKL.tap(tap, name + ".resnets.0", first.forward(x, null));
        if (attention != null) {
            h = AutoencoderKL.tap(tap, name + ".attentions.0", attention.forward(h));
        }
        return AutoencoderKL.tap(tap, name + ".resnets.1", second.forward(h, null));
    }
}
