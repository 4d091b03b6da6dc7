package dev.sdcfg.model.unet;

import dev.sdcfg.model.nn.ParamLoader;

/**
 * diffusers {@code UpBlock2D}: for each resnet, concatenate the last skip tensor on channels and apply the resnet;
 * then an optional nearest upsampler + conv.
 */
public final class UpBlock2D extends ResnetUpBlock {

    UpBlock2D(ParamLoader p, long in, long prevOut, long out, int numLayers, boolean addUpsample, BlockSettings s) {
        super(p, in, prevOut, out, numLayers, addUpsample, s);
    }
}
