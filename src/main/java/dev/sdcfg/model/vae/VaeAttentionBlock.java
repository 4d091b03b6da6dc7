package dev.sdcfg.model.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.model.nn.Attention;
import dev.sdcfg.model.nn.GroupNormLayer;
import dev.sdcfg.model.nn.ParamLoader;

/**
 * The VAE mid-block self-attention: diffusers {@code Attention} with {@code group_norm}, one head whose size is
 * the channel count, {@code residual_connection=True} and {@code rescale_output_factor=1}, applied to a
 * [B, C, H, W] map as a sequence of H·W tokens. Scores and softmax run in fp32 for fp16 models
 * ({@code upcast_softmax=True}).
 */
final class VaeAttentionBlock {
    private final GroupNormLayer groupNorm;
    private final Attention attention;

    VaeAttentionBlock(ParamLoader p, long channels, int groups, double eps) {
        this.groupNorm = new GroupNormLayer(p.child("group_norm"), groups, channels, eps);
        this.attention = new Attention(p, channels, channels, 1, channels, true, true, 0);
    }

    NDArray forward(NDArray x) {
        Shape s = x.getShape();
        long b = s.get(0);
        long c = s.get(1);
        long n = s.get(2) * s.get(3);
        // GroupNorm over [B, C, N] equals GroupNorm over [B, C, H, W]; normalise before flattening.
        NDArray tokens = groupNorm.forward(x).reshape(b, c, n).transpose(0, 2, 1);
        NDArray attended = attention.forward(tokens, null);
        return attended.transpose(0, 2, 1).reshape(s).add(x);
    }
}
