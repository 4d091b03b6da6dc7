package dev.sdcfg.api;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

/**
 * Body of POST /v1/images/generations and POST /v1/jobs: OpenAI's image-generation request plus our fields.
 * Unknown fields are rejected (400). Limits come from {@code sd.limits.*}; the defaults are given below.
 */
@Schema(name = "ImageGenerationRequest", description = "An image generation request (OpenAI-shaped, plus Stable "
        + "Diffusion and guidance fields). Unknown fields are rejected.")
public record ImageGenerationRequest(
        @Schema(description = "Text prompt (required, not blank; at most sd.limits.max-prompt-chars, default 2000, "
                + "characters; read as prompt_syntax says: A1111 weights and chunks of 75 tokens by default)",
                required = true, maxLength = 2000, examples = "a watercolor fox in a snowy forest")
        String prompt,

        @JsonProperty("negative_prompt")
        @Schema(description = "What to steer away from (the unconditional branch of CFG); empty by default",
                maxLength = 2000, examples = "blurry, low quality")
        String negativePrompt,

        @Schema(description = "Number of images, 1..sd.limits.max-n (default 4); image i uses seed + i",
                minimum = "1", maximum = "4", defaultValue = "1", examples = "1")
        Integer n,

        @Schema(description = "Size as \"WxH\" (OpenAI style). Width and height are multiples of 8 within "
                + "sd.limits.min-size..max-size (64..1024) and W×H ≤ sd.limits.max-pixels. Default: sd.defaults.size, "
                + "else the model's native size", pattern = "^[0-9]+x[0-9]+$", examples = "512x512")
        String size,

        @Schema(description = "Width in pixels (alternative to size; must agree with it when both are given)",
                minimum = "64", maximum = "1024", examples = "512")
        Integer width,

        @Schema(description = "Height in pixels (alternative to size; must agree with it when both are given)",
                minimum = "64", maximum = "1024", examples = "512")
        Integer height,

        @JsonProperty("response_format")
        @Schema(description = "b64_json: images inline as base64 PNG; url: links to GET /v1/jobs/{id}/images/{i} "
                + "(valid for sd.jobs.ttl). Ignored by POST /v1/jobs and when Accept: image/png",
                enumeration = {"b64_json", "url"}, defaultValue = "b64_json")
        String responseFormat,

        @Schema(description = "Seed of image 0, 0..2^53-1; absent: random (reported back in the answer)",
                minimum = "0", maximum = "9007199254740991", examples = "1234")
        Long seed,

        @Schema(description = "Denoising steps, 1..sd.limits.max-steps (default 150); default sd.defaults.steps (25)",
                minimum = "1", maximum = "150", examples = "30")
        Integer steps,

        @Schema(description = "Sampler name from GET /v1/samplers; absent: the model's own scheduler",
                maxLength = 64, examples = "euler")
        String sampler,

        @JsonProperty("sampler_options")
        @Schema(type = SchemaType.OBJECT, implementation = Object.class, additionalProperties = Object.class,
                description = "Sampler config overrides (see GET /v1/samplers)",
                examples = "{\"use_karras_sigmas\": true, \"timestep_spacing\": \"trailing\"}")
        JsonNode samplerOptions,

        @Schema(implementation = Object.class, oneOf = {Double.class, GuidanceSpecDoc.class},
                description = "Guidance spec: a number (plain CFG with a constant scale), an object "
                + "({\"normalizer\": ..., \"g\": <number | schedule object | array>, ...}) or {\"preset\": name}. "
                + "GET /v1/guidance lists normalizers, schedules, parameters and presets. Absent: the engine's default.",
                examples = {"7.5", "{\"normalizer\": \"fullnorm\", \"g\": {\"schedule\": \"cosine\", \"max\": 0.25, \"min\": 0.05}}",
                        "{\"preset\": \"FullNormGuidance_Sched_TCos\"}"})
        JsonNode guidance,

        @Schema(description = "With a models folder (sd.models.dir): the model to run on, a name from GET /v1/models "
                + "(absent: the default; unknown: 422). Without one: accepted for OpenAI client compatibility and "
                + "ignored", maxLength = 200, examples = "sd-1.5")
        String model,

        @Schema(description = "Accepted for OpenAI client compatibility and ignored", maxLength = 200)
        String user,

        @Schema(description = "Optional http(s) URL that receives the job view (POST, JSON) on the events of "
                + "webhook_events, signed as Standard Webhooks (Webhook-Id, Webhook-Timestamp, Webhook-Signature: "
                + "v1,base64 HMAC-SHA256 of id.timestamp.body with sd.webhooks.secret). At most "
                + "sd.webhooks.max-url-length (2048) characters; loopback, link-local and private addresses are "
                + "refused (422) unless sd.webhooks.allow-private. Retried with backoff (5 tries)",
                examples = "https://example.com/hooks/sd")
        String webhook,

        @JsonProperty("webhook_events")
        @Schema(description = "Which events are sent to webhook: a subset of started, progress (at most one a "
                + "second), completed (succeeded, failed or canceled). Default [\"completed\"]",
                examples = "[\"started\", \"completed\"]")
        java.util.List<String> webhookEvents,

        @JsonProperty("preview_every")
        @Schema(description = "POST /v1/jobs: a live preview after every that many steps (but the last), sent as "
                + "`preview` events on GET /v1/jobs/{id}/events: the current denoised estimate mapped to RGB without "
                + "the VAE (A1111's \"Approx cheap\"), a PNG of the latent's size (width/8 × height/8). 0 (default): "
                + "none; at most sd.limits.max-steps (150). Ignored by POST /v1/images/generations",
                minimum = "0", maximum = "150", defaultValue = "0", examples = "5")
        Integer previewEvery,

        @JsonProperty("init_image")
        @Schema(description = "Image to image (diffusers' StableDiffusionImg2ImgPipeline): a start image, PNG, JPEG "
                + "or WebP, lossless or lossy (told by its content; animated WebP is refused), as base64 or a data URL (data:image/png;base64,...). The output has its "
                + "size: leave size/width/height out, or give the same; its sides must be multiples of 8 within "
                + "sd.limits.min-size..max-size and its declared pixels at most sd.limits.max-pixels (checked before "
                + "decoding). Alpha is dropped, a JPEG's or WebP's EXIF orientation applied, an embedded ICC colour "
                + "profile converted to sRGB (one that cannot be used, and CMYK JPEG, are refused). "
                + "Two-call samplers (heun, dpm2*) "
                + "are refused", examples = "data:image/png;base64,iVBORw0KGgo...")
        String initImage,

        @Schema(description = "With init_image: how much of the schedule re-draws the image, 0..1 (default 0.8; "
                + "1 with a mask). "
                + "As diffusers, only the last int(steps × strength) of the steps run, starting from the image's "
                + "latents noised to that point: steps 30 with strength 0.5 runs 15 steps; int(steps × strength) "
                + "must be at least 1", minimum = "0", maximum = "1", defaultValue = "0.8", examples = "0.6")
        Double strength,

        @Schema(description = "Inpainting (diffusers' StableDiffusionInpaintPipeline), with init_image: a mask image "
                + "of the same size, PNG, JPEG or WebP as base64 or a data URL; white repaints, black keeps (grey after "
                + "PIL's convert(\"L\"), binarized at 128; an embedded colour profile is converted to sRGB first). "
                + "Regular models blend the kept part back after every "
                + "step; inpainting models (9-channel UNets) need it. With a mask, strength defaults to 1 (start from "
                + "pure noise)", examples = "data:image/png;base64,iVBORw0KGgo...")
        String mask,

        @JsonProperty("mask_blur")
        @Schema(description = "With mask: blur the mask by this many pixels first, 0..64 (default 0: none), as "
                + "diffusers' VaeImageProcessor.blur does (PIL's GaussianBlur with this radius). The pipeline still "
                + "binarizes the mask at 128 afterwards, so the blur rounds its corners and moves its edges where "
                + "the blurred grey crosses 128. Only with inpaint_full_res does the blurred mask also feather the "
                + "paste-back (A1111's default is 4)", minimum = "0", maximum = "64", defaultValue = "0",
                examples = "4")
        Integer maskBlur,

        @JsonProperty("inpaint_full_res")
        @Schema(description = "With mask: inpaint only the masked area (A1111's \"only masked\", diffusers' "
                + "padding_mask_crop). The mask's bounding box, grown by inpaint_full_res_padding and widened to the "
                + "output's aspect ratio, is cut from image and mask and resized to the full output size; the result "
                + "is resized back and pasted over the original through the mask (a blurred mask feathers the seam). "
                + "The mask must not be black everywhere", defaultValue = "false", examples = "true")
        Boolean inpaintFullRes,

        @JsonProperty("inpaint_full_res_padding")
        @Schema(description = "With inpaint_full_res: pixels added around the mask's bounding box, 0..256 (default "
                + "32, A1111's)", minimum = "0", maximum = "256", defaultValue = "32", examples = "16")
        Integer inpaintFullResPadding,

        @JsonProperty("masked_content")
        @Schema(description = "With mask: what the area to repaint starts from, A1111's \"Masked content\": original "
                + "(default, the image as it is), fill (A1111's masking.fill: blurred colours from around the mask), "
                + "latent_noise (the image's latents there replaced by noise from the seed), latent_nothing (zero "
                + "latents there). The latent modes only matter below strength 1, where the start is the image's "
                + "latents noised", enumeration = {"original", "fill", "latent_noise", "latent_nothing"},
                defaultValue = "original", examples = "fill")
        String maskedContent,

        @JsonProperty("original_size")
        @Schema(description = "SDXL only: the micro-conditioning original size [height, width] (diffusers' "
                + "original_size); default [height, width]", examples = "[1024, 1024]")
        java.util.List<Integer> originalSize,

        @JsonProperty("crops_coords_top_left")
        @Schema(description = "SDXL only: the crop's top-left corner [y, x] (diffusers' crops_coords_top_left); "
                + "default [0, 0]", examples = "[0, 0]")
        java.util.List<Integer> cropsCoordsTopLeft,

        @JsonProperty("target_size")
        @Schema(description = "SDXL only: the micro-conditioning target size [height, width] (diffusers' "
                + "target_size); default [height, width]", examples = "[1024, 1024]")
        java.util.List<Integer> targetSize,

        @JsonProperty("prompt_syntax")
        @Schema(description = "How prompt and negative_prompt are read. a1111 (default): AUTOMATIC1111's syntax, "
                + "(word) ×1.1, [word] ÷1.1, (word:1.3), \\( \\) for literal brackets, BREAK to start a new "
                + "75-token chunk; any length, in chunks of 75 tokens (at most sd.limits.max-prompt-chunks, default 8). "
                + "Prompt editing [a:b:0.5] and alternation [a|b] are not scheduled: such text is weighted as brackets. "
                + "Textual-inversion embeddings (GET /v1/embeddings) are matched by their names' tokens and placed "
                + "in the chunks as A1111 does. "
                + "plain: the text as it is, cut at 77 tokens with a warning; embeddings as diffusers' "
                + "load_textual_inversion uses them",
                enumeration = {"a1111", "plain"}, defaultValue = "a1111")
        String promptSyntax,

        @Schema(description = "LoRAs from sd.loras.dir (GET /v1/loras) merged into the model for this request: "
                + "[{\"name\": \"...\", \"weight\": 0.8}] (weight -10..10, default 1; at most 8). A1111's "
                + "<lora:name:weight> tags in the prompt are read and removed from the text the same way",
                examples = "[{\"name\": \"pixel-art\", \"weight\": 0.8}]")
        java.util.List<LoraRequest> loras,

        @Schema(description = "A high-resolution second pass (A1111's hires fix): the image is generated at the "
                + "requested size, upscaled by scale, then re-drawn by image to image at that size with the same "
                + "prompt, guidance, sampler and seed. The answer's images have the larger size; progress counts the "
                + "steps of both passes. Not with init_image; two-call samplers (heun, dpm2*) are refused")
        HiresRequest hires) {

    /** The {@code hires} object. */
    @Schema(name = "HiresRequest", description = "A1111's high-resolution second pass (StableDiffusionProcessingTxt2Img"
            + ".sample_hr_pass)")
    public record HiresRequest(
            @Schema(description = "Upscale factor, 1..4 (default 2). Each side of the second pass is int(side × scale) "
                    + "rounded down to a multiple of 8 (64 at 1.3 → 80); its pixels are bounded by "
                    + "sd.limits.max-pixels (not by max-size) and planned against the memory budget",
                    minimum = "1", maximum = "4", defaultValue = "2", examples = "1.5")
            Double scale,
            @Schema(description = "The second pass's steps, 0..sd.limits.max-steps; 0 (default) = the first pass's. "
                    + "As all image to image here (diffusers), only the last int(steps × strength) of them run "
                    + "(A1111 instead runs exactly this many)", minimum = "0", maximum = "150", defaultValue = "0",
                    examples = "20")
            Integer steps,
            @Schema(description = "Denoising strength of the second pass, 0..1 (default 0.75, A1111's); "
                    + "int(steps × strength) must be at least 1", minimum = "0", maximum = "1",
                    defaultValue = "0.75", examples = "0.5")
            Double strength,
            @Schema(description = "latent (default, A1111's \"Latent\"): bilinear interpolation of the latents "
                    + "(torch interpolate, antialias off), which the second pass noises directly; lanczos (A1111's "
                    + "\"Lanczos\"): the first image decoded, resized with PIL's LANCZOS filter in 8 bits, and "
                    + "encoded again by the VAE", enumeration = {"latent", "lanczos"}, defaultValue = "latent")
            String upscaler) {
    }

    /** One entry of {@code loras}. */
    @Schema(name = "LoraRequest", description = "A LoRA to merge into the model for this request")
    public record LoraRequest(
            @Schema(description = "A LoRA name from GET /v1/loras (its file name without .safetensors)",
                    required = true, examples = "pixel-art")
            String name,
            @Schema(description = "Multiplier of the LoRA's update, -10..10 (default 1)", defaultValue = "1",
                    examples = "0.8")
            Double weight) {
    }

    /** A text-to-image request without SDXL's size conditioning. */
    public ImageGenerationRequest(String prompt, String negativePrompt, Integer n, String size, Integer width,
                                  Integer height, String responseFormat, Long seed, Integer steps, String sampler,
                                  JsonNode samplerOptions, JsonNode guidance, String model, String user,
                                  String webhook, java.util.List<String> webhookEvents) {
        this(prompt, negativePrompt, n, size, width, height, responseFormat, seed, steps, sampler, samplerOptions,
                guidance, model, user, webhook, webhookEvents, null, null, null, null, null, null, null, null, null,
                null, null, null, null, null);
    }
}
