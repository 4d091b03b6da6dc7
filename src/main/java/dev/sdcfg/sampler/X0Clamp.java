package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;

/**
 * Limits on the predicted x0: diffusers' {@code clip_sample} / {@code clip_sample_range} and dynamic thresholding
 * ({@code thresholding}, {@code dynamic_thresholding_ratio}, {@code sample_max_value}); thresholding wins over
 * clipping, as in diffusers.
 */
record X0Clamp(boolean clip, double clipRange, boolean thresholding, double ratio, double maxValue) {

    /** All five options, clip_sample defaulting to true (DDIM, DDPM). */
    static X0Clamp clipOrThreshold(SamplerConfig c) {
        return new X0Clamp(c.getBool("clip_sample", true), c.getDouble("clip_sample_range", 1.0),
                c.getBool("thresholding", false), c.getDouble("dynamic_thresholding_ratio", 0.995),
                c.getDouble("sample_max_value", 1.0));
    }

    /** Thresholding only (DPM-Solver, UniPC have no clip_sample). */
    static X0Clamp thresholdOnly(SamplerConfig c) {
        return new X0Clamp(false, 1.0, c.getBool("thresholding", false), c.getDouble("dynamic_thresholding_ratio", 0.995),
                c.getDouble("sample_max_value", 1.0));
    }

    /** Whether {@link #apply} changes anything. */
    boolean active() {
        return clip || thresholding;
    }

    /** x0 thresholded, else clipped, else unchanged. */
    NDArray apply(NDArray x0) {
        if (thresholding) {
            return AbstractSampler.threshold(x0, ratio, maxValue);
        }
        return clip ? x0.clip(-clipRange, clipRange) : x0;
    }
}
