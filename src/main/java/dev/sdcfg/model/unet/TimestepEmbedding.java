package dev.sdcfg.model.unet;

import ai.djl.ndarray.NDArray;
import dev.sdcfg.model.nn.LinearLayer;
import dev.sdcfg.model.nn.Ops;
import dev.sdcfg.model.nn.ParamLoader;

/**
 * diffusers {@code TimestepEmbedding}: linear_1 → SiLU → linear_2 → optional post activation (config
 * {@code timestep_post_act}); no cond_proj (UNetConfig refuses {@code time_cond_proj_dim}).
 */
public final class TimestepEmbedding {

    private final LinearLayer linear1;
    private final LinearLayer linear2;
    private final String postAct;

    public TimestepEmbedding(ParamLoader p, long in, long timeEmbedDim) {
        this(p, in, timeEmbedDim, null);
    }

    /** @param postAct diffusers activation name applied after linear_2, or null */
    public TimestepEmbedding(ParamLoader p, long in, long timeEmbedDim, String postAct) {
        this.linear1 = new LinearLayer(p.child("linear_1"), in, timeEmbedDim);
        this.linear2 = new LinearLayer(p.child("linear_2"), timeEmbedDim, timeEmbedDim);
        this.postAct = postAct;
    }

    public NDArray forward(NDArray tEmb) {
        NDArray out = linear2.forward(Ops.silu(linear1.forward(tEmb)));
        return postAct == null ? out : Activations.apply(postAct, out);
    }
}
