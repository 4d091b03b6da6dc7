package dev.sdcfg.model.nn;

import ai.djl.ndarray.NDArray;

/** torch.nn.GroupNorm(groups, channels, eps, affine=True). */
public final class GroupNormLayer {
    final NDArray weight;
    final NDArray bias;
    final int groups;
    final double eps;

    public GroupNormLayer(ParamLoader p, int groups, long channels, double eps) {
        if (channels % groups != 0) {
            throw new dev.sdcfg.model.ModelLoadException(p.prefix() + ": " + channels
                    + " channels are not divisible into " + groups + " GroupNorm groups");
        }
        this.weight = p.get("weight", channels);
        this.bias = p.get("bias", channels);
        this.groups = groups;
        this.eps = eps;
    }

    public NDArray forward(NDArray x) {
        return Ops.groupNorm(x, groups, weight, bias, eps);
    }
}
