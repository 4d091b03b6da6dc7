package dev.sdcfg.model.nn;

import ai.djl.ndarray.NDArray;

/**
 * torch.nn.Linear; weight [out, in], bias [out] unless the module is built with {@code bias=False}. A checkpoint
 * storing a 1×1 conv weight [out, in, 1, 1] loads too.
 */
public final class LinearLayer {
    final NDArray weight;
    final NDArray bias;

    public LinearLayer(ParamLoader p, long in, long out) {
        this(p, in, out, true);
    }

    public LinearLayer(ParamLoader p, long in, long out, boolean bias) {
        this.weight = p.get("weight", out, in);
        this.bias = bias ? p.get("bias", out) : null;
    }

    private LinearLayer(NDArray weight, NDArray bias) {
        this.weight = weight;
        this.bias = bias;
    }

    /** The same layer with its output multiplied by {@code factor} (folded into the parameters once, at load). */
    public LinearLayer scaled(double factor) {
        LinearLayer s = new LinearLayer(weight.mul(factor), bias == null ? null : bias.mul(factor));
        weight.close();
        if (bias != null) {
            bias.close();
        }
        return s;
    }

    public NDArray forward(NDArray x) {
        return Ops.linear(x, weight, bias);
    }
}
