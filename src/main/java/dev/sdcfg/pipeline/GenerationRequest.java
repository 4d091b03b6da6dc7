package dev.sdcfg.pipeline;

import dev.sdcfg.guidance.GuidanceSpec;

import java.util.List;

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
 * @param loras           LoRAs from sd.loras.dir merged into the model for this request (empty: none)
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
        String model,
        List<LoraWeight> loras) {

    public GenerationRequest {
        samplerOptions = samplerOptions == null ? SamplerOverrides.NONE : samplerOptions;
        guidance = guidance == null ? GuidanceSpec.DEFAULT : guidance;
        loras = loras == null ? List.of() : List.copyOf(loras);
    }

    /** A request for {@code model} without LoRAs. */
    public GenerationRequest(String prompt, String negativePrompt, int width, int height, int steps, String sampler,
                             SamplerOverrides samplerOptions, GuidanceSpec guidance, long seed, int n, String model) {
        this(prompt, negativePrompt, width, height, steps, sampler, samplerOptions, guidance, seed, n, model, null);
    }

    /** A request for the default model. */
    public GenerationRequest(String prompt, String negativePrompt, int width, int height, int steps, String sampler,
                             SamplerOverrides samplerOptions, GuidanceSpec guidance, long seed, int n) {
        this(prompt, negativePrompt, width, height, steps, sampler, samplerOptions, guidance, seed, n, null, null);
    }

    /** The same request for the model named {@code name}. */
    public GenerationRequest withModel(String name) {
        return new GenerationRequest(prompt, negativePrompt, width, height, steps, sampler, samplerOptions, guidance,
                seed, n, name, loras);
    }

    /** The same request with these LoRAs. */
    public GenerationRequest withLoras(List<LoraWeight> list) {
        return new GenerationRequest(prompt, negativePrompt, width, height, steps, sampler, samplerOptions, guidance,
                seed, n, model, list);
    }
}
