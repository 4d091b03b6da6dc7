package dev.sdcfg.model.unet;

import ai.djl.ndarray.NDArray;
import dev.sdcfg.model.nn.LinearLayer;
import dev.sdcfg.model.nn.ParamLoader;

/**
 * diffusers {@code FeedForward} with the "geglu" activation (the one Transformer2DModel uses in SD): net.0 = GEGLU
 * (dim → 4·dim), net.1 = dropout (inference: identity), net.2 = Linear(4·dim → dim).
 */
public final class FeedForward {

    private final GEGLU act;
    private final LinearLayer out;

    public FeedForward(ParamLoader p, long dim) {
        long inner = dim * 4;
        this.act = new GEGLU(p.child("net.0"), dim, inner);
        this.out = new LinearLayer(p.child("net.2"), inner, dim);
    }

    public NDArray forward(NDArray x) {
        return out.forward(act.forward(x));
    }
}
