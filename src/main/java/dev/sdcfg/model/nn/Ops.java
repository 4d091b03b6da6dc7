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
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.runtime.HostScalars;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Functional building blocks that DJL's PyTorch engine lacks natively (GroupNorm, SiLU, quick_gelu, attention)
 * expressed in few native ops. Every op costs host time (see DESIGN.md), so each helper issues as few as it can.
 */
public final class Ops {

    static {
        // Every convolution goes through this class: make sure the CPU kernels are chosen first, also when a caller
        // (a test, a tool) created its NDManager without DjlRuntime (see CpuKernels).
        DjlRuntime.engine();
    }

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
        long[] affineShape = new long[x.getShape().dimension() - 1];
        affineShape[0] = weight.getShape().get(0);
        java.util.Arrays.fill(affineShape, 1, affineShape.length, 1);
        return groupNormBroadcastAffine(x, groups, weight.reshape(affineShape), bias.reshape(affineShape), eps);
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
        return x.mul(HostScalars.mul(x, 1.702).getNDArrayInternal().sigmoid());
    }

    /** Exact (erf) GELU, as torch.nn.functional.gelu with approximate='none'. */
    public static NDArray gelu(NDArray x) {
        return x.getNDArrayInternal().gelu();
    }

    /**
     * Scaled dot-product attention over [batch·heads, tokens, headDim] (or [batch, heads, tokens, headDim])
     * tensors: softmax(q·kᵀ·scale)·v; see {@link #scaledAttention}.
     */
    public static NDArray attention(NDArray q, NDArray k, NDArray v, double scale, boolean upcast, int sliceSize) {
        return scaledAttention(scale == 1.0 ? q : HostScalars.mul(q, scale), k.swapAxes(-1, -2), v, upcast, sliceSize);
    }

    /**
     * softmax(q·kT)·v with the 1/√d scale already in q and the keys already transposed (kT: [..., headDim, M]).
     * When {@code upcast} the scores and softmax of fp16 inputs run in fp32 (diffusers' upcast_attention).
     * {@code sliceSize} &gt; 0 processes that many rows of the leading axis at a time to bound the score
     * matrix's memory.
     */
    public static NDArray scaledAttention(NDArray q, NDArray kT, NDArray v, boolean upcast, int sliceSize) {
        long rows = q.getShape().get(0);
        if (sliceSize <= 0 || sliceSize >= rows) {
            return attentionBlock(q, kT, v, upcast);
        }
        ai.djl.ndarray.NDList parts = new ai.djl.ndarray.NDList();
        for (long i = 0; i < rows; i += sliceSize) {
            String idx = i + ":" + Math.min(rows, i + sliceSize);
            parts.add(attentionBlock(q.get(idx), kT.get(idx), v.get(idx), upcast));
        }
        return ai.djl.ndarray.NDArrays.concat(parts, 0);
    }

    private static NDArray attentionBlock(NDArray q, NDArray kT, NDArray v, boolean upcast) {
        DataType dt = q.getDataType();
        NDArray probs;
        if (upcast && dt != DataType.FLOAT32 && dt != DataType.FLOAT64) {
            probs = q.toType(DataType.FLOAT32, false).matMul(kT.toType(DataType.FLOAT32, false)).softmax(-1)
                    .toType(dt, false);
        } else {
            probs = q.matMul(kT).softmax(-1);
        }
        return probs.matMul(v);
    }
}
