package dev.sdcfg.model.unet;

import ai.djl.ndarray.NDArray;

/** A UNet mid block: {@code UNetMidBlock2DCrossAttn} or the attention-free {@code UNetMidBlock2D}. */
interface MidBlock {

    /** @param tembAct SiLU(time embedding); @param context encoder hidden states (ignored without attention) */
    NDArray forward(NDArray x, NDArray tembAct, NDArray context);
}
