package dev.sdcfg.pipeline;

/**
 * Callbacks from the worker thread while a job runs. Implementations must be cheap and must not touch NDArrays.
 * Timings are host wall-clock nanoseconds (on a GPU they measure issue time unless the stage synchronises).
 */
public interface GenerationListener {

    GenerationListener NONE = new GenerationListener() {
    };

    /** Checked between steps: returning true ends the job with {@link GenerationCanceledException}. */
    default boolean isCanceled() {
        return false;
    }

    /** Step {@code step} (0-based) of {@code totalSteps} finished for image {@code image}. */
    default void onStep(int image, int step, int totalSteps, long nanos) {
    }

    /**
     * Steps between previews, 0 for none (read once per image, before its first step): after every
     * {@code previewEvery}-th step but the last, {@link #onPreview} gets the current x0 as a {@link LatentPreview}.
     */
    default int previewEvery() {
        return 0;
    }

    /** The preview after step {@code step} (0-based) of {@code totalSteps} of image {@code image}. */
    default void onPreview(int image, int step, int totalSteps, LatentPreview.Image preview) {
    }

    default void onTextEncoded(long nanos) {
    }

    default void onUnetForward(long nanos) {
    }

    default void onVaeDecoded(long nanos) {
    }

    /** The memory plan the job runs under (once per image generation, before its first step). */
    default void onMemoryPlan(MemoryPlan plan) {
    }
}
