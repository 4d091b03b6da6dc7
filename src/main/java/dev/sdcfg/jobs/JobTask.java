package dev.sdcfg.jobs;

import dev.sdcfg.pipeline.GenerationRequest;

import java.util.Objects;

/**
 * One call of {@link dev.sdcfg.pipeline.ImageGenerator#generate} inside a job. A generation job has one task; an
 * experiment has one per guidance spec, each labelled (the label becomes the grid title). {@code previewEvery}
 * asks for a live preview after every that many steps (0: none; see {@link dev.sdcfg.pipeline.LatentPreview}).
 */
public record JobTask(String label, GenerationRequest request, int previewEvery) {
    public JobTask {
        Objects.requireNonNull(request, "request");
        if (previewEvery < 0) {
            throw new IllegalArgumentException("previewEvery must be >= 0: " + previewEvery);
        }
    }

    /** A task without previews. */
    public JobTask(String label, GenerationRequest request) {
        this(label, request, 0);
    }
}
