package dev.sdcfg.model.unet;

import ai.djl.ndarray.NDArray;
import dev.sdcfg.model.nn.ParamLoader;
import dev.sdcfg.model.nn.ResnetBlock2D;

/**
 * diffusers {@code UNetMidBlock2DCrossAttn} (num_layers 1): resnet → (Transformer2DModel → resnet); the resnets
 * divide by {@code mid_block_scale_factor}.
 */
public final class UNetMidBlock2DCrossAttn implements MidBlock {

    private final ResnetBlock2D[] resnets;
    private final Transformer2DModel[] attentions;

    UNetMidBlock2DCrossAttn(ParamLoader p, long channels, int transformerLayers, int heads, long crossAttentionDim,
                            double outputScaleFactor, BlockSettings s) {
        int numLayers = 1;
        this.resnets = new ResnetBlock2D[numLayers + 1];
        this.attentions = new Transformer2DModel[numLayers];
        resnets[0] = new ResnetBlock2D(p.child("resnets.0"), channels, channels, s.tembChannels(), s.groups(), s.eps(),
                s.resnetTimeScaleShift(), outputScaleFactor);
        for (int i = 0; i < numLayers; i++) {
            attentions[i] = new Transformer2DModel(p.child("attentions." + i), heads, channels / heads, channels,
                    transformerLayers, crossAttentionDim, s.groups(), s.useLinearProjection(), false,
                    s.upcastAttention(), s.attentionSliceSize());
            resnets[i + 1] = new ResnetBlock2D(p.child("resnets." + (i + 1)), channels, channels, s.tembChannels(),
                    s.groups(), s.eps(), s.resnetTimeScaleShift(), outputScaleFactor);
        }
    }

    @Override
    public NDArray forward(NDArray x, NDArray tembAct, NDArray context) {
        NDArray h = resnets[0].forward(x, tembAct);
        for (int i = 0; i < attentions.length; i++) {
            h = resnets[i + 1].forward(attentions[i].forward(h, context), tembAct);
        }
        return h;
    }
}
