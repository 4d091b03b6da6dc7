package dev.sdcfg.model.unet;

import ai.djl.ndarray.NDArray;
import dev.sdcfg.model.nn.LinearLayer;
import dev.sdcfg.model.nn.Ops;
import dev.sdcfg.model.nn.ParamLoader;

/** diffusers {@code TimestepEmbedding}: linear_1 → SiLU → linear_2 (no cond_proj, no post activation). */
public final class TimestepEmbedding {

    private final LinearLayer linear1;
    private final LinearLayer linear2;

    public TimestepEmbedding(ParamLoader p, long in, long timeEmbedDim) {
        this.linear1 = new LinearLayer(p.child("linear_1"), in, timeEmbedDim);
        this.linear2 = new LinearLayer(p.child("linear_2"), timeEmbedDim, timeEmbedDim);
    }

    public NDArray forward(NDArray tEmb) {
        return linear2.forward(Ops.silu(linear1.forward(tEmb)));
    }
}
