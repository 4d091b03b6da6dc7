package dev.sdcfg.model.unet;

import ai.djl.ndarray.NDArray;
import dev.sdcfg.model.nn.Attention;
import dev.sdcfg.model.nn.LayerNormLayer;
import dev.sdcfg.model.nn.ParamLoader;

/**
 * diffusers {@code BasicTransformerBlock} as SD uses it (norm_type "layer_norm", LayerNorm eps 1e-5, no attention
 * bias, GEGLU feed-forward): x += attn1(norm1(x)) (self; with only_cross_attention attn1(norm1(x), context));
 * x += attn2(norm2(x), context) (cross); x += ff(norm3(x)).
 */
public final class BasicTransformerBlock {

    static final double LAYER_NORM_EPS = 1e-5;

    private final LayerNormLayer norm1;
    private final Attention attn1;
    private final LayerNormLayer norm2;
    private final Attention attn2;
    private final LayerNormLayer norm3;
    private final FeedForward ff;
    private final boolean onlyCrossAttention;

    /**
     * @param onlyCrossAttention diffusers' only_cross_attention: attn1 is built with cross_attention_dim and
     *                           attends to the context too (attn2 is unchanged)
     */
    public BasicTransformerBlock(ParamLoader p, long dim, int heads, long headDim, long crossAttentionDim,
                                 boolean onlyCrossAttention, boolean upcastAttention, int attentionSliceSize) {
        this.onlyCrossAttention = onlyCrossAttention;
        this.norm1 = new LayerNormLayer(p.child("norm1"), dim, LAYER_NORM_EPS);
        // SD UNets build their attentions with diffusers' default attention_bias=False: no to_q/to_k/to_v biases
        this.attn1 = new Attention(p.child("attn1"), dim, onlyCrossAttention ? crossAttentionDim : dim, heads, headDim,
                false, upcastAttention, attentionSliceSize);
        this.norm2 = new LayerNormLayer(p.child("norm2"), dim, LAYER_NORM_EPS);
        this.attn2 = new Attention(p.child("attn2"), dim, crossAttentionDim, heads, headDim, false, upcastAttention,
                attentionSliceSize);
        this.norm3 = new LayerNormLayer(p.child("norm3"), dim, LAYER_NORM_EPS);
        this.ff = new FeedForward(p.child("ff"), dim);
    }

    /** @param x tokens [B, N, dim]; @param context encoder hidden states [B, M, crossAttentionDim] */
    public NDArray forward(NDArray x, NDArray context) {
        NDArray h = x.add(attn1.forward(norm1.forward(x), onlyCrossAttention ? context : null));
        h = h.add(attn2.forward(norm2.forward(h), context));
        return h.add(ff.forward(norm3.forward(h)));
    }
}
