package dev.sdcfg.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;

/**
 * diffusers Attention (AttnProcessor semantics) on token sequences [B, N, C]: to_q/to_k/to_v projections
 * (bias when the checkpoint has one), heads × headDim, softmax(q·kᵀ/√d)·v, to_out.0. Cross-attention when a
 * context [B, M, Cc] is given. The heads stay a separate axis [B, H, N, D] so no reshape to B·H is needed.
 */
public final class Attention {
    private final LinearLayer toQ;
    private final LinearLayer toK;
    private final LinearLayer toV;
    private final LinearLayer toOut;
    private final int heads;
    private final long headDim;
    private final double scale;
    private final boolean upcast;
    private final int sliceSize;

    public Attention(ParamLoader p, long queryDim, long contextDim, int heads, long headDim, boolean upcast,
                     int sliceSize) {
        long inner = heads * headDim;
        this.toQ = new LinearLayer(p.child("to_q"), queryDim, inner);
        this.toK = new LinearLayer(p.child("to_k"), contextDim, inner);
        this.toV = new LinearLayer(p.child("to_v"), contextDim, inner);
        this.toOut = new LinearLayer(p.child("to_out.0"), inner, queryDim);
        this.heads = heads;
        this.headDim = headDim;
        this.scale = 1.0 / Math.sqrt(headDim);
        this.upcast = upcast;
        this.sliceSize = sliceSize;
    }

    public NDArray forward(NDArray hidden, NDArray context) {
        NDArray ctx = context == null ? hidden : context;
        Shape hs = hidden.getShape();
        long b = hs.get(0);
        long n = hs.get(1);
        long m = ctx.getShape().get(1);
        NDArray q = toQ.forward(hidden).reshape(b, n, heads, headDim).transpose(0, 2, 1, 3);
        NDArray k = toK.forward(ctx).reshape(b, m, heads, headDim).transpose(0, 2, 1, 3);
        NDArray v = toV.forward(ctx).reshape(b, m, heads, headDim).transpose(0, 2, 1, 3);
        NDArray o;
        if (sliceSize > 0 && sliceSize < b * heads) {
            o = Ops.attention(q.reshape(b * heads, n, headDim), k.reshape(b * heads, m, headDim),
                    v.reshape(b * heads, m, headDim), scale, upcast, sliceSize).reshape(b, heads, n, headDim);
        } else {
            o = Ops.attention(q, k, v, scale, upcast, 0);
        }
        return toOut.forward(o.transpose(0, 2, 1, 3).reshape(b, n, heads * headDim));
    }
}
