package dev.sdcfg.jobs;

import dev.sdcfg.pipeline.GenerationRequest;

import java.util.Objects;

/**
 * One call of {@link dev.sdcfg.pipeline.ImageGenerator#generate} inside a job. A generation job has one task; an
 * experiment has one per guidance spec, each labelled (the label becomes the grid title).
 */
public record JobTask(String label, GenerationRequest request) {
    public JobTask {
        Objects.requireNonNull(request, "request");
    }
}
