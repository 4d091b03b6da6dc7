package dev.sdcfg.pipeline;

/** Thrown by the pipeline when {@link GenerationListener#isCanceled()} turned true between two steps. */
public class GenerationCanceledException extends RuntimeException {
    public GenerationCanceledException(String message) {
        super(message);
    }
}
