package dev.sdcfg.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Functional building blocks that DJL's PyTorch engine lacks natively (GroupNorm, SiLU, quick_gelu, attention)
 * expressed in few native ops. Every op costs host time (see DESIGN.md), so each helper issues as few as it can.
 */
public final class Ops {

    private Ops() {
    }

    /** Per-thread cache of the identity affine (ones/zeros) that layer_norm needs for a given width. */
    private static final Map<String, NDArray[]> IDENTITY_AFFINE = new ConcurrentHashMap<>();

    public static NDArray linear(NDArray x, NDArray weight, NDArray bias) {
        return Linear.linear(x, weight, bias).singletonOrThrow();
    }

    public static NDArray conv2d(NDArray x, NDArray weight, NDArray bias, int stride, int padding) {
        return Conv2d.conv2d(x, weight, bias, new Shape(stride, stride), new Shape(padding, padding), new Shape(1, 1), 1)
                .singletonOrThrow();
    }

    public static NDArray layerNorm(NDArray x, NDArray gamma, NDArray beta, double eps) {
        return layerNorm(x, new Shape(gamma.getShape().get(0)), gamma, beta, eps);
    }

    /**
     * layer_norm with a double eps. DJL's {@code LayerNorm.layerNorm} takes a float, so 1e-5 reaches torch as
     * 9.99999974738e-06; on small-variance activations that alone gives ~1e-10 relative error in fp64 (measured on
     * the CLIP golden: 9e-11 → 4e-16). The PyTorch JNI takes the double.
     */
    private static NDArray layerNorm(NDArray x, Shape normalized, NDArray gamma, NDArray beta, double eps) {
        if (x instanceof PtNDArray px && gamma instanceof PtNDArray pg && beta instanceof PtNDArray pb) {
            return JniUtils.layerNorm(px, normalized, pg, pb, eps);
        }
        return LayerNorm.layerNorm(x, normalized, gamma, beta, (float) eps).singletonOrThrow();
    }

    /**
     * torch.nn.GroupNorm: statistics per (sample, group) over channels-in-group × spatial positions, then the
     * per-channel affine. Done as reshape → layer_norm over the last axis (identity affine) → reshape → affine.
     */
    public static NDArray groupNorm(NDArray x, int groups, NDArray weight, NDArray bias, double eps) {
        Shape s = x.getShape();
        long n = s.get(0);
        long c = s.get(1);
        long perGroup = s.size() / (n * groups);
        NDArray[] id = identityAffine(x.getManager(), perGroup, x.getDataType(), weight);
        NDArray g = x.reshape(n, groups, perGroup);
        NDArray normed = layerNorm(g, new Shape(perGroup), id[0], id[1], eps);
        long[] affineShape = new long[s.dimension()];
        affineShape[0] = 1;
        affineShape[1] = c;
        for (int i = 2; i < affineShape.length; i++) {
            affineShape[i] = 1;
        }
        return normed.reshape(s).mul(weight.reshape(affineShape)).add(bias.reshape(affineShape));
    }

    /** {@link #groupNorm} with weight and bias already shaped to broadcast over x ([C, 1, 1] for NCHW). */
    public static NDArray groupNormBroadcastAffine(NDArray x, int groups, NDArray weight, NDArray bias, double eps) {
        Shape s = x.getShape();
        long n = s.get(0);
        long perGroup = s.size() / (n * groups);
        NDArray[] id = identityAffine(x.getManager(), perGroup, x.getDataType(), weight);
        NDArray normed = layerNorm(x.reshape(n, groups, perGroup), new Shape(perGroup), id[0], id[1], eps);
        return normed.reshape(s).mul(weight).add(bias);
    }

    private static NDArray[] identityAffine(NDManager m, long width, DataType dt, NDArray like) {
        String key = like.getDevice() + "/" + dt + "/" + width;
        return IDENTITY_AFFINE.computeIfAbsent(key, k -> {
            // Held for the life of the process; one small pair per (device, dtype, width).
            NDManager owner = NDManager.newBaseManager(like.getDevice());
            NDArray[] pair = {owner.ones(new Shape(width), dt), owner.zeros(new Shape(width), dt)};
            // First use is usually inside a forward's NDScope, which would close the cached pair when it ends.
            ai.djl.ndarray.NDScope.unregister(pair);
            return pair;
        });
    }

    public static NDArray silu(NDArray x) {
        return x.mul(x.getNDArrayInternal().sigmoid());
    }

    /**
     * CLIP's quick_gelu: x · sigmoid(1.702 x). The constant is a double: torch casts it to the tensor's dtype, so
     * fp32/fp16 see 1.702f as before, while fp64 gets 1.702 exactly (1.702f alone cost ~3e-9 in fp64).
     */
    public static NDArray quickGelu(NDArray x) {
        return x.mul(x.mul(1.702).getNDArrayInternal().sigmoid());
    }

    /** Exact (erf) GELU, as torch.nn.functional.gelu with approximate='none'. */
    public static NDArray gelu(NDArray x) {
        return x.getNDArrayInternal().gelu();
    }

    /**
     * Scaled dot-product attention over [batch·heads, tokens, headDim] (or [batch, heads, tokens, headDim])
     * tensors: softmax(q·kᵀ·scale)·v. When
     * {@code upcast} the scores and softmax run in fp32 (diffusers' upcast_attention / upcast_softmax).
     * {@code sliceSize} &gt; 0 processes that many batch·head rows at a time to bound the score matrix's memory.
     */
    public static NDArray attention(NDArray q, NDArray k, NDArray v, double scale, boolean upcast, int sliceSize) {
        long bh = q.getShape().get(0);
        if (sliceSize <= 0 || sliceSize >= bh) {
            return attentionBlock(q, k, v, scale, upcast);
        }
        ai.djl.ndarray.NDList parts = new ai.djl.ndarray.NDList();
        for (long i = 0; i < bh; i += sliceSize) {
            long end = Math.min(bh, i + sliceSize);
            String idx = i + ":" + end;
            parts.add(attentionBlock(q.get(idx), k.get(idx), v.get(idx), scale, upcast));
        }
        return ai.djl.ndarray.NDArrays.concat(parts, 0);
    }

    private static NDArray attentionBlock(NDArray q, NDArray k, NDArray v, double scale, boolean upcast) {
        DataType dt = q.getDataType();
        if (upcast && dt != DataType.FLOAT32 && dt != DataType.FLOAT64) {
            NDArray scores = q.toType(DataType.FLOAT32, false).matMul(k.toType(DataType.FLOAT32, false).swapAxes(-1, -2));
            if (scale != 1.0) {
                scores = scores.mul((float) scale);
            }
            NDArray p = scores.softmax(-1).toType(dt, false);
            return p.matMul(v);
        }
        NDArray scores = (scale == 1.0 ? q : q.mul(scale)).matMul(k.swapAxes(-1, -2));
        return scores.softmax(-1).matMul(v);
    }
}
