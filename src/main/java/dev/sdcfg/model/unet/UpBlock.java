package dev.sdcfg.model.unet;

import ai.djl.ndarray.NDArray;

import java.util.List;

/**
 * A UNet up block: each resnet takes (and removes) the last tensor of {@code skips}; the upsampler, when present,
 * scales to {@code upHeight × upWidth} (the size of the next skip tensor).
 */
interface UpBlock {
    NDArray forward(NDArray x, List<NDArray> skips, NDArray tembAct, NDArray context, long upHeight, long upWidth);

    /** Number of skip tensors this block consumes (one per resnet). */
    int numResnets();

    boolean hasUpsampler();
}
