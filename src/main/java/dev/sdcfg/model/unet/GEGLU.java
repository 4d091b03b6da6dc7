package dev.sdcfg.model.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import dev.sdcfg.model.nn.LinearLayer;
import dev.sdcfg.model.nn.Ops;
import dev.sdcfg.model.nn.ParamLoader;

/** diffusers {@code GEGLU}: proj to 2·inner, chunk into (hidden, gate) on the last axis, hidden · gelu(gate). */
public final class GEGLU {

    private final LinearLayer proj;

    public GEGLU(ParamLoader p, long dimIn, long dimOut) {
        this.proj = new LinearLayer(p.child("proj"), dimIn, dimOut * 2);
    }

    public NDArray forward(NDArray x) {
        NDArray h = proj.forward(x);
        NDList parts = h.split(2, h.getShape().dimension() - 1);
        return parts.get(0).mul(Ops.gelu(parts.get(1)));
    }
}
