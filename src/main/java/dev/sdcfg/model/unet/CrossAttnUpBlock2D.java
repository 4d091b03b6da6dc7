package dev.sdcfg.model.unet;

import ai.djl.ndarray.NDArray;
import dev.sdcfg.model.nn.ParamLoader;

/**
 * diffusers {@code CrossAttnUpBlock2D}: for each layer, concatenate the last skip tensor on channels, resnet,
 * Transformer2DModel; then an optional nearest upsampler + conv.
 */
public final class CrossAttnUpBlock2D extends ResnetUpBlock {

    private final Transformer2DModel[] attentions;

    /** @param transformerLayers transformer depth of each layer's attention ({@code numLayers} entries) */
    CrossAttnUpBlock2D(ParamLoader p, long in, long prevOut, long out, int numLayers, int[] transformerLayers,
                       int heads, long crossAttentionDim, boolean onlyCrossAttention, boolean addUpsample,
                       BlockSettings s) {
        super(p, in, prevOut, out, numLayers, addUpsample, s);
        this.attentions = new Transformer2DModel[numLayers];
        for (int i = 0; i < numLayers; i++) {
            attentions[i] = new Transformer2DModel(p.child("attentions." + i), heads, out / heads, out,
                    transformerLayers[i], crossAttentionDim, s.groups(), s.useLinearProjection(),
                    onlyCrossAttention, s.upcastAttention(), s.attentionSliceSize());
        }
    }

    @Override
    protected NDArray afterResnet(int i, NDArray h, NDArray context) {
        return attentions[i].forward(h, context);
    }
}
