package dev.sdcfg.pipeline;

/**
 * One generation job as the core engine sees it (already bounded by the HTTP layer; the engine checks again in
 * {@link ImageGenerator#validate}).
 *
 * @param prompt          the text prompt
 * @param negativePrompt  the negative prompt ("" for none: the cached empty-prompt embedding is used)
 * @param width           image width in pixels, a multiple of 8
 * @param height          image height in pixels, a multiple of 8
 * @param steps           denoising steps
 * @param sampler         sampler name as listed by {@link ImageGenerator#samplers()} (null: the model's own)
 * @param samplerOptions  per-request sampler config overrides as a JSON object text (null or "{}": none),
 *                        e.g. {"use_karras_sigmas": true, "timestep_spacing": "trailing"}
 * @param guidanceJson    the guidance spec as JSON text (a number, an object, or {"preset": …}); null: the default
 * @param seed            seed of image 0; image i uses seed + i
 * @param n               number of images
 */
public record GenerationRequest(
        String prompt,
        String negativePrompt,
        int width,
        int height,
        int steps,
        String sampler,
        String samplerOptions,
        String guidanceJson,
        long seed,
        int n) {
}
