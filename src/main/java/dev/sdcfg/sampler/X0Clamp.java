package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;

/**
 * Limits on the predicted x0: diffusers' {@code clip_sample} / {@code clip_sample_range} and dynamic thresholding
 * ({@code thresholding}, {@code dynamic_thresholding_ratio}, {@code sample_max_value}); thresholding wins over
 * clipping, as in diffusers.
 */
record X0Clamp(boolean clip, double clipRange, boolean thresholding, double ratio, double maxValue) {

    /** All five options (DDIM, DDPM). */
    static X0Clamp clipOrThreshold(SamplerConfig c, SamplerOption<Boolean> clipSample) {
        return new X0Clamp(c.get(clipSample), c.get(SharedOptions.CLIP_SAMPLE_RANGE), c.get(SharedOptions.THRESHOLDING),
                c.get(SharedOptions.DYNAMIC_THRESHOLDING_RATIO), c.get(SharedOptions.SAMPLE_MAX_VALUE));
    }

    /** Thresholding only (DPM-Solver, UniPC have no clip_sample). */
    static X0Clamp thresholdOnly(SamplerConfig c) {
        return thresholdOnly(c, SharedOptions.THRESHOLDING);
    }

    /** Thresholding only, with the class's own declaration of {@code thresholding}. */
    static X0Clamp thresholdOnly(SamplerConfig c, SamplerOption<Boolean> thresholding) {
        return new X0Clamp(false, 1.0, c.get(thresholding), c.get(SharedOptions.DYNAMIC_THRESHOLDING_RATIO),
                c.get(SharedOptions.SAMPLE_MAX_VALUE));
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
