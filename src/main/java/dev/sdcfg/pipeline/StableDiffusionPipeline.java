package dev.sdcfg.pipeline;

import dev.sdcfg.runtime.ComputeContext;

import java.nio.file.Path;

/**
 * Prompt → embeddings → denoising loop with guidance → VAE → PNG. (Being implemented; the service codes
 * against {@link ImageGenerator}.)
 */
public final class StableDiffusionPipeline {

    private StableDiffusionPipeline() {
    }

    /** Loads a diffusers folder onto {@code ctx}. */
    public static ImageGenerator load(Path modelFolder, ComputeContext ctx, PipelineOptions options) {
        throw new UnsupportedOperationException("StableDiffusionPipeline is not implemented yet");
    }
}
