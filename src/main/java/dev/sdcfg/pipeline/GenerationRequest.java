package dev.sdcfg.pipeline;

import dev.sdcfg.guidance.GuidanceSpec;

/**
 * One generation job as the core engine sees it: typed values, parsed once where the request came in (the HTTP
 * layer, the CLI) and already bounded there; the engine checks what depends on the model in
 * {@link ImageGenerator#validate}.
 *
 * @param prompt          the text prompt
 * @param negativePrompt  the negative prompt ("" for none: the cached empty-prompt embedding is used)
 * @param width           image width in pixels, a multiple of 8
 * @param height          image height in pixels, a multiple of 8
 * @param steps           denoising steps
 * @param sampler         sampler name as listed by {@link ImageGenerator#samplers()} (null: the model's own)
 * @param samplerOptions  per-request sampler config overrides (null: {@link SamplerOverrides#NONE})
 * @param guidance        the guidance spec (null: {@link GuidanceSpec#DEFAULT})
 * @param seed            seed of image 0; image i uses seed + i
 * @param n               number of images
 * @param model           the model of the models folder to run on (null: the default / the only model)
 */
public record GenerationRequest(
        String prompt,
        String negativePrompt,
        int width,
        int height,
        int steps,
        String sampler,
        SamplerOverrides samplerOptions,
        GuidanceSpec guidance,
        long seed,
        int n,
        String model) {

    public GenerationRequest {
        samplerOptions = samplerOptions == null ? SamplerOverrides.NONE : samplerOptions;
        guidance = guidance == null ? GuidanceSpec.DEFAULT : guidance;
    }

    /** A request for the default model. */
    public GenerationRequest(String prompt, String negativePrompt, int width, int height, int steps, String sampler,
                             SamplerOverrides samplerOptions, GuidanceSpec guidance, long seed, int n) {
        this(prompt, negativePrompt, width, height, steps, sampler, samplerOptions, guidance, seed, n, null);
    }

    /** The same request for the model named {@code name}. */
    public GenerationRequest withModel(String name) {
        return new GenerationRequest(prompt, negativePrompt, width, height, steps, sampler, samplerOptions, guidance,
                seed, n, name);
    }
}
