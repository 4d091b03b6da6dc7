package dev.sdcfg.model.unet;

import ai.djl.ndarray.NDArray;
import dev.sdcfg.model.nn.Ops;

/** diffusers' {@code get_activation} for the names UNetConfig accepts: silu/swish, gelu (exact erf), relu. */
final class Activations {

    private Activations() {
    }

    static NDArray apply(String name, NDArray x) {
        return switch (name) {
            case "silu", "swish" -> Ops.silu(x);
            case "gelu" -> Ops.gelu(x);
            case "relu" -> x.getNDArrayInternal().relu();
            default -> throw new IllegalArgumentException("unsupported activation '" + name + "'");
        };
    }
}
