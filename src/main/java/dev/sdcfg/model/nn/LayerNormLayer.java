package dev.sdcfg.model.nn;

import ai.djl.ndarray.NDArray;

/** torch.nn.LayerNorm over the last dimension. */
public final class LayerNormLayer {
    final NDArray weight;
    final NDArray bias;
    final double eps;

    public LayerNormLayer(ParamLoader p, long dim, double eps) {
        this.weight = p.get("weight", dim);
        this.bias = p.get("bias", dim);
        this.eps = eps;
    }

    public NDArray forward(NDArray x) {
        return Ops.layerNorm(x, weight, bias, eps);
    }
}
