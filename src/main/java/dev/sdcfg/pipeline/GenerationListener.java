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
