package dev.sdcfg.model.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.model.nn.Conv2dLayer;
import dev.sdcfg.model.nn.GroupNormLayer;
import dev.sdcfg.model.nn.LinearLayer;
import dev.sdcfg.model.nn.ParamLoader;

/**
 * diffusers {@code Transformer2DModel} for continuous inputs: GroupNorm (eps 1e-6) → proj_in → tokens [B, H·W, inner]
 * → BasicTransformerBlocks → proj_out → back to [B, C, H, W] → + residual. proj_in/proj_out are 1×1 convs (applied on
 * the feature map, SD 1.x) or linears (applied on the tokens, {@code use_linear_projection}, SD 2.x).
 */
public final class Transformer2DModel {

    static final double GROUP_NORM_EPS = 1e-6;

    private final GroupNormLayer norm;
    private final Conv2dLayer projInConv;
    private final LinearLayer projInLinear;
    private final BasicTransformerBlock[] blocks;
    private final Conv2dLayer projOutConv;
    private final LinearLayer projOutLinear;
    private final long inner;

    public Transformer2DModel(ParamLoader p, int heads, long headDim, long inChannels, int numLayers,
                              long crossAttentionDim, int normGroups, boolean useLinearProjection,
                              boolean upcastAttention, int attentionSliceSize) {
        this(p, heads, headDim, inChannels, numLayers, crossAttentionDim, normGroups, useLinearProjection, false,
                upcastAttention, attentionSliceSize);
    }

    /** @param onlyCrossAttention diffusers' only_cross_attention: attn1 attends to the context too */
    public Transformer2DModel(ParamLoader p, int heads, long headDim, long inChannels, int numLayers,
                              long crossAttentionDim, int normGroups, boolean useLinearProjection,
                              boolean onlyCrossAttention, boolean upcastAttention, int attentionSliceSize) {
        this.inner = heads * headDim;
        this.norm = new GroupNormLayer(p.child("norm"), normGroups, inChannels, GROUP_NORM_EPS);
        if (useLinearProjection) {
            this.projInLinear = new LinearLayer(p.child("proj_in"), inChannels, inner);
            this.projOutLinear = new LinearLayer(p.child("proj_out"), inner, inChannels);
            this.projInConv = null;
            this.projOutConv = null;
        } else {
            this.projInConv = new Conv2dLayer(p.child("proj_in"), inChannels, inner, 1, 1, 0);
            this.projOutConv = new Conv2dLayer(p.child("proj_out"), inner, inChannels, 1, 1, 0);
            this.projInLinear = null;
            this.projOutLinear = null;
        }
        this.blocks = new BasicTransformerBlock[numLayers];
        for (int i = 0; i < numLayers; i++) {
            blocks[i] = new BasicTransformerBlock(p.child("transformer_blocks." + i), inner, heads, headDim,
                    crossAttentionDim, onlyCrossAttention, upcastAttention, attentionSliceSize);
        }
    }

    /** @param x [B, C, H, W]; @param context [B, M, crossAttentionDim] */
    public NDArray forward(NDArray x, NDArray context) {
        Shape s = x.getShape();
        long b = s.get(0);
        long h = s.get(2);
        long w = s.get(3);
        NDArray t = norm.forward(x);
        if (projInConv != null) {
            t = projInConv.forward(t).transpose(0, 2, 3, 1).reshape(b, h * w, inner);
        } else {
            t = projInLinear.forward(t.transpose(0, 2, 3, 1).reshape(b, h * w, s.get(1)));
        }
        for (BasicTransformerBlock block : blocks) {
            t = block.forward(t, context);
        }
        NDArray out;
        if (projOutConv != null) {
            out = projOutConv.forward(t.reshape(b, h, w, inner).transpose(0, 3, 1, 2));
        } else {
            out = projOutLinear.forward(t).reshape(b, h, w, s.get(1)).transpose(0, 3, 1, 2);
        }
        return out.add(x);
    }
}
