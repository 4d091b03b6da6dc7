package dev.sdcfg.pipeline;

import java.util.Locale;
import java.util.function.BiConsumer;

/**
 * A1111's high-resolution second pass ("hires fix", modules/processing.py
 * {@code StableDiffusionProcessingTxt2Img.sample_hr_pass}): the image is generated at the requested size, upscaled,
 * then re-drawn by image to image at the larger size with the same prompt, guidance and sampler.
 *
 * @param scale    1..4: the target side is {@code int(side · scale)} (A1111's {@code hr_upscale_to_x}) rounded
 *                 down to a multiple of 8, the granularity of every size here (so a 64-pixel side at 1.3 becomes 80,
 *                 not 83; A1111's latent upscaler takes the {@code // 8} of it as well)
 * @param steps    0..150: the second pass's schedule length, 0 for the first pass's {@code steps} (A1111's
 *                 {@code hr_second_pass_steps}); as in all image to image here (diffusers'
 *                 StableDiffusionImg2ImgPipeline) only the last {@code int(steps · strength)} of them run, where A1111
 *                 stretches its schedule so that {@code steps} run
 * @param strength 0..1: the second pass's denoising strength (A1111's {@code denoising_strength})
 * @param upscaler how the first pass's result is enlarged
 */
public record HiresFix(double scale, int steps, double strength, Upscaler upscaler) {

    public static final double MIN_SCALE = 1.0;
    public static final double MAX_SCALE = 4.0;
    /** A1111's defaults (StableDiffusionProcessingTxt2Img: hr_scale 2.0, denoising_strength 0.75, "Latent"). */
    public static final double DEFAULT_SCALE = 2.0;
    public static final double DEFAULT_STRENGTH = 0.75;
    /** Sides are multiples of this (the API's rule; the VAE's scale factor divides it). */
    static final int SIDE_MULTIPLE = 8;

    public HiresFix {
        if (upscaler == null) {
            throw new IllegalArgumentException("upscaler is required");
        }
    }

    /** How the first pass's result is enlarged. */
    public enum Upscaler {
        /**
         * A1111's "Latent": {@code torch.nn.functional.interpolate(latents, size, mode="bilinear",
         * antialias=False)} on the latents, which the second pass noises directly (no VAE round trip).
         */
        LATENT("latent", "Latent"),
        /**
         * A1111's "Lanczos": the decoded 8-bit image resized with PIL's {@code Image.LANCZOS}, then encoded by the
         * VAE as image to image encodes its start image.
         */
        LANCZOS("lanczos", "Lanczos");

        private final String value;
        private final String a1111;

        Upscaler(String value, String a1111) {
            this.value = value;
            this.a1111 = a1111;
        }

        /** The request's name. */
        public String value() {
            return value;
        }

        /** A1111's name (infotext "Hires upscaler"). */
        public String a1111Name() {
            return a1111;
        }

        /** The upscaler a request or an infotext names (either spelling, any case), or null. */
        public static Upscaler of(String name) {
            if (name == null) {
                return null;
            }
            for (Upscaler u : values()) {
                if (u.value.equals(name.toLowerCase(Locale.ROOT))) {
                    return u;
                }
            }
            return null;
        }
    }

    /**
     * The second pass a request asks for, A1111's defaults filled in for absent members (scale 2, steps 0, strength
     * 0.75, latent); the one place that bounds the members, for the HTTP request ({@code hires}) and the command line
     * ({@code --hires-*}). Each member out of bounds is reported to {@code problems} as (member, rule), e.g.
     * ("scale", "must be between 1.0 and 4.0"), and null is returned.
     *
     * @param maxSteps the largest {@code steps} (sd.limits.max-steps for the service)
     */
    public static HiresFix fromRequest(Double scale, Integer steps, Double strength, String upscaler, int maxSteps,
                                       BiConsumer<String, String> problems) {
        boolean ok = true;
        double sc = scale == null ? DEFAULT_SCALE : scale;
        if (!(sc >= MIN_SCALE && sc <= MAX_SCALE)) {
            problems.accept("scale", "must be between " + MIN_SCALE + " and " + MAX_SCALE);
            ok = false;
        }
        int st = steps == null ? 0 : steps;
        if (st < 0 || st > maxSteps) {
            problems.accept("steps", "must be between 0 (the first pass's steps) and " + maxSteps);
            ok = false;
        }
        double str = strength == null ? DEFAULT_STRENGTH : strength;
        if (!(str >= 0 && str <= 1)) {
            problems.accept("strength", "must be between 0 and 1");
            ok = false;
        }
        // exactly the request's spellings; of() also reads A1111's infotext names
        Upscaler up = upscaler == null ? Upscaler.LATENT
                : Upscaler.LATENT.value.equals(upscaler) || Upscaler.LANCZOS.value.equals(upscaler)
                ? Upscaler.of(upscaler) : null;
        if (up == null) {
            problems.accept("upscaler", "must be latent or lanczos");
            ok = false;
        }
        return ok ? new HiresFix(sc, st, str, up) : null;
    }

    /** The second pass's side for a first-pass side: {@code int(side · scale)} rounded down to a multiple of 8. */
    public int targetSide(int side) {
        return (int) (side * scale) / SIDE_MULTIPLE * SIDE_MULTIPLE;
    }

    /** The second pass's schedule length ({@code steps}, or the first pass's when 0). */
    public int scheduleSteps(int firstPassSteps) {
        return steps == 0 ? firstPassSteps : steps;
    }

    /** The steps the second pass runs: {@code int(scheduleSteps · strength)}, as image to image. */
    public int runSteps(int firstPassSteps) {
        int s = scheduleSteps(firstPassSteps);
        return s - Img2Img.skippedSteps(s, strength);
    }

    /** Canonical JSON text (pngText, job echo): every field. */
    public String canonicalJson() {
        return "{\"scale\":" + num(scale) + ",\"steps\":" + steps + ",\"strength\":" + num(strength)
                + ",\"upscaler\":\"" + upscaler.value + "\"}";
    }

    private static String num(double v) {
        return new com.google.gson.JsonPrimitive(v).toString();
    }
}
