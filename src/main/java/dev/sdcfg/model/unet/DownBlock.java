package dev.sdcfg.model.unet;

import ai.djl.ndarray.NDArray;

import java.util.List;

/** A UNet down block: returns the hidden states leaving the block and appends its skip tensors to {@code skips}. */
interface DownBlock {
    NDArray forward(NDArray x, NDArray tembAct, NDArray context, List<NDArray> skips);
}
