package dev.sdcfg.model.nn;

import ai.djl.ndarray.NDArray;

/** torch.nn.Conv2d with square kernel; weight [out, in, k, k], bias [out] (every conv of SD's models has one). */
public final class Conv2dLayer {
    final NDArray weight;
    final NDArray bias;
    final int stride;
    final int padding;

    public Conv2dLayer(ParamLoader p, long in, long out, int kernel, int stride, int padding) {
        this.weight = p.get("weight", out, in, kernel, kernel);
        this.bias = p.get("bias", out);
        this.stride = stride;
        this.padding = padding;
    }

    public NDArray forward(NDArray x) {
        return Ops.conv2d(x, weight, bias, stride, padding);
    }

    public long outChannels() {
        return weight.getShape().get(0);
    }
}
