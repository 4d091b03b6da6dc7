package dev.sdcfg.model.unet;

import ai.djl.ndarray.NDArray;
import dev.sdcfg.model.nn.ParamLoader;
import dev.sdcfg.model.nn.ResnetBlock2D;

/**
 * diffusers {@code UNetMidBlock2D} as {@code get_mid_block("UNetMidBlock2D")} builds it for UNet2DConditionModel:
 * {@code num_layers=0, add_attention=False}, i.e. a single resnet ({@code mid_block.resnets.0}) that divides by
 * {@code mid_block_scale_factor}.
 */
final class UNetMidBlock2D implements MidBlock {

    private final ResnetBlock2D resnet;

    UNetMidBlock2D(ParamLoader p, long channels, double outputScaleFactor, BlockSettings s) {
        this.resnet = new ResnetBlock2D(p.child("resnets.0"), channels, channels, s.tembChannels(), s.groups(),
                s.eps(), s.resnetTimeScaleShift(), outputScaleFactor);
    }

    @Override
    public NDArray forward(NDArray x, NDArray tembAct, NDArray context) {
        return resnet.forward(x, tembAct);
    }
}
