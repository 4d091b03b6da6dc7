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
        // stored as [C, 1, 1] so they broadcast over [N, C, H, W] without a reshape per call
        this.weight = broadcastable(p.get("weight", channels));
        this.bias = broadcastable(p.get("bias", channels));
        this.groups = groups;
        this.eps = eps;
    }

    private static NDArray broadcastable(NDArray v) {
        NDArray r = v.reshape(v.getShape().get(0), 1, 1); // a view: the storage stays alive
        v.close();
        return r;
    }

    public NDArray forward(NDArray x) {
        return Ops.groupNormBroadcastAffine(x, groups, weight, bias, eps);
    }
}
