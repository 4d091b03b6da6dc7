package dev.sdcfg.pipeline;

import dev.sdcfg.guidance.GuidanceSpec;
import dev.sdcfg.pipeline.prompt.PromptSyntax;

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
 * @param img2img         start image and strength (null: text to image)
 * @param sizeConditions  SDXL's original_size / crops_coords_top_left / target_size (null: diffusers' defaults)
 * @param promptSyntax    how prompt and negative prompt are read (null: {@link PromptSyntax#A1111})
 * @param model           the model of the models folder to run on (null: the default / the only model)
 * @param loras           LoRAs from sd.loras.dir merged into the model for this request (empty: none)
 * @param hires           the high-resolution second pass (null: none)
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
        Img2ImgInput img2img,
        SizeConditions sizeConditions,
        PromptSyntax promptSyntax,
        String model,
        List<LoraWeight> loras,
        HiresFix hires) {

    public GenerationRequest {
        samplerOptions = samplerOptions == null ? SamplerOverrides.NONE : samplerOptions;
        guidance = guidance == null ? GuidanceSpec.DEFAULT : guidance;
        promptSyntax = promptSyntax == null ? PromptSyntax.A1111 : promptSyntax;
        loras = loras == null ? List.of() : List.copyOf(loras);
    }

    /** A request without a high-resolution second pass. */
    public GenerationRequest(String prompt, String negativePrompt, int width, int height, int steps, String sampler,
                             SamplerOverrides samplerOptions, GuidanceSpec guidance, long seed, int n,
                             Img2ImgInput img2img, SizeConditions sizeConditions, PromptSyntax promptSyntax,
                             String model, List<LoraWeight> loras) {
        this(prompt, negativePrompt, width, height, steps, sampler, samplerOptions, guidance, seed, n, img2img,
                sizeConditions, promptSyntax, model, loras, null);
    }

    /** A text-to-image request on the default model, A1111 prompt syntax, SDXL's default size conditioning. */
    public GenerationRequest(String prompt, String negativePrompt, int width, int height, int steps, String sampler,
                             SamplerOverrides samplerOptions, GuidanceSpec guidance, long seed, int n) {
        this(prompt, negativePrompt, width, height, steps, sampler, samplerOptions, guidance, seed, n, null, null, null,
                null, null);
    }

    /** An image-to-image request (null: text to image). */
    public GenerationRequest(String prompt, String negativePrompt, int width, int height, int steps, String sampler,
                             SamplerOverrides samplerOptions, GuidanceSpec guidance, long seed, int n,
                             Img2ImgInput img2img) {
        this(prompt, negativePrompt, width, height, steps, sampler, samplerOptions, guidance, seed, n, img2img, null,
                null, null, null);
    }

    /** A text-to-image request with SDXL's size conditioning (null: diffusers' defaults). */
    public GenerationRequest(String prompt, String negativePrompt, int width, int height, int steps, String sampler,
                             SamplerOverrides samplerOptions, GuidanceSpec guidance, long seed, int n,
                             SizeConditions sizeConditions) {
        this(prompt, negativePrompt, width, height, steps, sampler, samplerOptions, guidance, seed, n, null,
                sizeConditions, null, null, null);
    }

    /** A text-to-image request read with {@code promptSyntax} (null: A1111). */
    public GenerationRequest(String prompt, String negativePrompt, int width, int height, int steps, String sampler,
                             SamplerOverrides samplerOptions, GuidanceSpec guidance, long seed, int n,
                             PromptSyntax promptSyntax) {
        this(prompt, negativePrompt, width, height, steps, sampler, samplerOptions, guidance, seed, n, null, null,
                promptSyntax, null, null);
    }

    /** A text-to-image request for {@code model} without LoRAs. */
    public GenerationRequest(String prompt, String negativePrompt, int width, int height, int steps, String sampler,
                             SamplerOverrides samplerOptions, GuidanceSpec guidance, long seed, int n, String model) {
        this(prompt, negativePrompt, width, height, steps, sampler, samplerOptions, guidance, seed, n, null, null, null,
                model, null);
    }

    /** The same request for the model named {@code name}. */
    public GenerationRequest withModel(String name) {
        return new GenerationRequest(prompt, negativePrompt, width, height, steps, sampler, samplerOptions, guidance,
                seed, n, img2img, sizeConditions, promptSyntax, name, loras, hires);
    }

    /** The same request with these LoRAs. */
    public GenerationRequest withLoras(List<LoraWeight> list) {
        return new GenerationRequest(prompt, negativePrompt, width, height, steps, sampler, samplerOptions, guidance,
                seed, n, img2img, sizeConditions, promptSyntax, model, list, hires);
    }

    /** The same request with this start image (null: text to image). */
    public GenerationRequest withImg2img(Img2ImgInput in) {
        return new GenerationRequest(prompt, negativePrompt, width, height, steps, sampler, samplerOptions, guidance,
                seed, n, in, sizeConditions, promptSyntax, model, loras, hires);
    }

    /** The same request with this high-resolution second pass (null: none). */
    public GenerationRequest withHires(HiresFix h) {
        return new GenerationRequest(prompt, negativePrompt, width, height, steps, sampler, samplerOptions, guidance,
                seed, n, img2img, sizeConditions, promptSyntax, model, loras, h);
    }

    /**
     * The denoising steps one image runs, as progress counts them: the last {@code int(steps · strength)} with a
     * start image, all of them otherwise, plus the second pass's with {@link #hires}.
     */
    public int stepsRun() {
        return Img2Img.runSteps(this) + (hires == null ? 0 : hires.runSteps(steps));
    }

    /** The width of the images this request produces (the second pass's with {@link #hires}). */
    public int outputWidth() {
        return hires == null ? width : hires.targetSide(width);
    }

    /** The height of the images this request produces (the second pass's with {@link #hires}). */
    public int outputHeight() {
        return hires == null ? height : hires.targetSide(height);
    }
}
