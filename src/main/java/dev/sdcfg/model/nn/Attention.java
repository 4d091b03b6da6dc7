package dev.sdcfg.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;

/**
 * diffusers Attention (AttnProcessor semantics) on token sequences [B, N, C]: to_q/to_k/to_v projections
 * (with a bias when built with {@code bias=True}: the VAE's, not the UNet's), heads × headDim, softmax(q·kᵀ/√d)·v,
 * to_out.0 (always with a bias). Cross-attention when a context [B, M, Cc] is given.
 *
 * <p>Op economy (every DJL op costs host time): the 1/√d scale is folded into the to_q weights at load; for
 * self-attention q, k and v come from one fused projection; k is permuted straight to [B, H, D, M] so no
 * separate transpose is needed before q·kᵀ; the heads stay an axis ([B, H, N, D]) instead of a B·H reshape.
 * Cross-attention keys and values depend only on the context, which is the same tensor at every step of a job:
 * they are computed once per context tensor and kept, attached to the context's manager so that they are freed
 * with it (the same numbers; 6 ops and two small projections fewer per cross-attention per step).
 */
public final class Attention {
    private final LinearLayer toQ;
    private final LinearLayer toK;
    private final LinearLayer toV;
    private final LinearLayer toOut;
    /** [3·inner, C] weights (and bias) of q|k|v for self-attention, q pre-scaled; null for cross-attention. */
    private final NDArray qkvWeight;
    private final NDArray qkvBias;
    private final int heads;
    private final long headDim;
    private final boolean upcast;
    private final int sliceSize;
    /** The context tensor the cached keys/values belong to (compared by identity), and the cache. */
    private NDArray cachedContext;
    private NDArray cachedKT;
    private NDArray cachedV;

    /** @param bias diffusers' {@code bias}: whether to_q, to_k and to_v have biases */
    public Attention(ParamLoader p, long queryDim, long contextDim, int heads, long headDim, boolean bias,
                     boolean upcast, int sliceSize) {
        long inner = heads * headDim;
        double scale = 1.0 / Math.sqrt(headDim);
        this.toQ = new LinearLayer(p.child("to_q"), queryDim, inner, bias).scaled(scale);
        this.toK = new LinearLayer(p.child("to_k"), contextDim, inner, bias);
        this.toV = new LinearLayer(p.child("to_v"), contextDim, inner, bias);
        this.toOut = new LinearLayer(p.child("to_out.0"), inner, queryDim);
        this.heads = heads;
        this.headDim = headDim;
        this.upcast = upcast;
        this.sliceSize = sliceSize;
        if (queryDim == contextDim) {
            qkvWeight = NDArrays.concat(new NDList(toQ.weight, toK.weight, toV.weight), 0);
            qkvBias = bias ? NDArrays.concat(new NDList(toQ.bias, toK.bias, toV.bias), 0) : null;
        } else {
            qkvWeight = null;
            qkvBias = null;
        }
    }

    /** Keeps k/v beyond this forward's scope, owned by the context's manager (freed with the context). */
    private void cacheKeysAndValues(NDArray context, NDArray kT, NDArray v) {
        if (cachedKT != null && cachedContext != context) {
            cachedKT.close();
            cachedV.close();
        }
        NDScope.unregister(kT, v);
        kT.attach(context.getManager());
        v.attach(context.getManager());
        cachedContext = context;
        cachedKT = kT;
        cachedV = v;
    }

    /** @param context [B, M, Cc] for cross-attention, or null for self-attention */
    public NDArray forward(NDArray hidden, NDArray context) {
        Shape hs = hidden.getShape();
        long b = hs.get(0);
        long n = hs.get(1);
        NDArray q;
        NDArray kT;
        NDArray v;
        long m;
        if (context == null && qkvWeight != null) {
            m = n;
            // [B, N, 3, H, D] → [3, B, H, N, D]; k as [B, H, D, N]
            NDArray qkv = Ops.linear(hidden, qkvWeight, qkvBias).reshape(b, n, 3, heads, headDim);
            NDArray split = qkv.transpose(2, 0, 3, 1, 4);
            q = split.get(0);
            v = split.get(2);
            kT = qkv.get(":, :, 1").transpose(0, 2, 3, 1);
        } else {
            NDArray ctx = context == null ? hidden : context;
            m = ctx.getShape().get(1);
            q = toQ.forward(hidden).reshape(b, n, heads, headDim).transpose(0, 2, 1, 3);
            if (context != null && context == cachedContext && !cachedKT.isReleased() && !cachedV.isReleased()) {
                kT = cachedKT;
                v = cachedV;
            } else {
                kT = toK.forward(ctx).reshape(b, m, heads, headDim).transpose(0, 2, 3, 1);
                v = toV.forward(ctx).reshape(b, m, heads, headDim).transpose(0, 2, 1, 3);
                if (context != null) {
                    cacheKeysAndValues(context, kT, v);
                }
            }
        }
        NDArray o;
        if (sliceSize > 0 && sliceSize < b * heads) {
            // slice over batch·heads rows, as diffusers' sliced attention does
            o = Ops.scaledAttention(q.reshape(b * heads, n, headDim), kT.reshape(b * heads, headDim, m),
                    v.reshape(b * heads, m, headDim), upcast, sliceSize).reshape(b, heads, n, headDim);
        } else {
            o = Ops.scaledAttention(q, kT, v, upcast, 0);
        }
        return toOut.forward(o.transpose(0, 2, 1, 3).reshape(b, n, heads * headDim));
    }
}
