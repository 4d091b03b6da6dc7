package dev.sdcfg.pipeline;

import java.util.function.BiConsumer;

/**
 * The image-to-image part of a {@link GenerationRequest}: the start image and how much of the schedule re-draws it.
 *
 * @param image    the decoded start image; the request's width and height must equal its size
 * @param strength 0..1: the loop runs the last {@code min(int(steps · strength), steps)} of the {@code steps}
 *                 scheduled steps (diffusers' {@code get_timesteps}), starting from the image's latents noised to the
 *                 first of them; 1 starts from (almost) pure noise, small values change little (with a
 *                 mask, as diffusers' inpainting pipeline: 1 starts from pure noise)
 * @param mask     null for image to image; for inpainting the mask image, its size the image's: white (grey ≥ 128
 *                 after PIL's {@code convert("L")}) is repainted, black kept
 * @param maskBlur 0..64 pixels: the mask is first blurred as diffusers' {@code VaeImageProcessor.blur(mask,
 *                 blur_factor)} does it (PIL's {@code ImageFilter.GaussianBlur}); the pipeline still binarizes it,
 *                 so the blur rounds the mask's corners and moves its edge where the blurred grey crosses 128 (0: none)
 * @param fullResPadding {@link #FULL_RES_OFF}, or inpainting "only masked" (A1111's {@code inpaint_full_res},
 *                 diffusers' {@code padding_mask_crop}, see {@link MaskCrop}) with this padding in pixels around the
 *                 mask's bounding box
 * @param maskedContent what the area to repaint starts from (null: {@link MaskedContent#ORIGINAL})
 */
public record Img2ImgInput(InitImage image, double strength, InitImage mask, int maskBlur, int fullResPadding,
                           MaskedContent maskedContent) {

    /** fullResPadding when the whole image is inpainted. */
    public static final int FULL_RES_OFF = -1;
    /** The largest padding accepted (A1111's slider ends at 256). */
    public static final int MAX_FULL_RES_PADDING = 256;

    /** The largest mask_blur accepted (A1111's slider ends at 64). */
    public static final int MAX_MASK_BLUR = 64;

    /** diffusers' default strength for StableDiffusionImg2ImgPipeline. */
    public static final double DEFAULT_STRENGTH = 0.8;
    /** StableDiffusionInpaintPipeline's default strength: start from pure noise. */
    public static final double DEFAULT_INPAINT_STRENGTH = 1.0;
    /** A1111's default padding for "only masked" inpainting. */
    public static final int DEFAULT_FULL_RES_PADDING = 32;

    /** The request's field names, which {@link #checkFields} reports. */
    public static final String INIT_IMAGE = "init_image";
    public static final String STRENGTH = "strength";
    public static final String MASK = "mask";
    public static final String MASK_BLUR = "mask_blur";
    public static final String FULL_RES = "inpaint_full_res";
    public static final String FULL_RES_PADDING = "inpaint_full_res_padding";
    public static final String MASKED_CONTENT = "masked_content";

    public Img2ImgInput {
        if (image == null) {
            throw new IllegalArgumentException("image is required");
        }
        maskedContent = maskedContent == null ? MaskedContent.ORIGINAL : maskedContent;
        if (maskedContent != MaskedContent.ORIGINAL && mask == null) {
            throw new IllegalArgumentException("masked_content needs a mask");
        }
        if (maskBlur < 0 || maskBlur > MAX_MASK_BLUR || (maskBlur > 0 && mask == null)) {
            throw new IllegalArgumentException("mask_blur must be within 0.." + MAX_MASK_BLUR + ", with a mask");
        }
        if (fullResPadding < FULL_RES_OFF || fullResPadding > MAX_FULL_RES_PADDING
                || (fullResPadding != FULL_RES_OFF && mask == null)) {
            throw new IllegalArgumentException("inpaint_full_res_padding must be within 0.." + MAX_FULL_RES_PADDING
                    + ", with a mask");
        }
    }

    /**
     * The rules of the image-to-image fields of a request, the one place for the HTTP request and the command line:
     * strength and mask only with an init image, mask_blur, inpaint_full_res and masked_content only with a mask,
     * inpaint_full_res_padding only with inpaint_full_res; strength within 0..1, mask_blur within 0..64, padding
     * within 0..256, masked_content one of the {@link MaskedContent} names. Each broken rule is reported to
     * {@code problems} as (field, rule), with the request's field names ({@link #MASK_BLUR}, …).
     */
    public static void checkFields(boolean initImage, Double strength, boolean mask, Integer maskBlur,
                                   Boolean fullRes, Integer fullResPadding, String maskedContent,
                                   BiConsumer<String, String> problems) {
        if (maskedContent != null && !mask) {
            problems.accept(MASKED_CONTENT, "only with mask");
        } else if (maskedContent != null && MaskedContent.of(maskedContent) == null) {
            problems.accept(MASKED_CONTENT, "must be original, fill, latent_noise or latent_nothing");
        }
        if (fullRes != null && fullRes && !mask) {
            problems.accept(FULL_RES, "only with mask");
        }
        if (fullResPadding != null && (fullRes == null || !fullRes)) {
            problems.accept(FULL_RES_PADDING, "only with inpaint_full_res true");
        } else if (fullResPadding != null && (fullResPadding < 0 || fullResPadding > MAX_FULL_RES_PADDING)) {
            problems.accept(FULL_RES_PADDING, "must be between 0 and " + MAX_FULL_RES_PADDING);
        }
        if (maskBlur != null && !mask) {
            problems.accept(MASK_BLUR, "only with mask");
        } else if (maskBlur != null && (maskBlur < 0 || maskBlur > MAX_MASK_BLUR)) {
            problems.accept(MASK_BLUR, "must be between 0 and " + MAX_MASK_BLUR);
        }
        if (!initImage) {
            if (strength != null) {
                problems.accept(STRENGTH, "only with init_image");
            }
            if (mask) {
                problems.accept(MASK, "only with init_image");
            }
        } else if (strength != null && !(strength >= 0 && strength <= 1)) {
            problems.accept(STRENGTH, "must be between 0 and 1");
        }
    }

    /**
     * The input of fields that passed {@link #checkFields}, with the request defaults for absent ones: strength 0.8,
     * or 1 with a mask (diffusers' img2img and inpaint pipelines), mask_blur 0, padding 32 with inpaint_full_res
     * (A1111's), masked_content original.
     */
    public static Img2ImgInput withDefaults(InitImage image, InitImage mask, Double strength, Integer maskBlur,
                                            Boolean fullRes, Integer fullResPadding, String maskedContent) {
        double s = strength != null ? strength : mask != null ? DEFAULT_INPAINT_STRENGTH : DEFAULT_STRENGTH;
        int padding = fullRes == null || !fullRes ? FULL_RES_OFF
                : fullResPadding == null ? DEFAULT_FULL_RES_PADDING : fullResPadding;
        return new Img2ImgInput(image, s, mask, maskBlur == null ? 0 : maskBlur, padding,
                MaskedContent.of(maskedContent));
    }

    /** Inpainting from the image as it is. */
    public Img2ImgInput(InitImage image, double strength, InitImage mask, int maskBlur, int fullResPadding) {
        this(image, strength, mask, maskBlur, fullResPadding, MaskedContent.ORIGINAL);
    }

    /** Inpainting of the whole image, the mask blurred by {@code maskBlur}. */
    public Img2ImgInput(InitImage image, double strength, InitImage mask, int maskBlur) {
        this(image, strength, mask, maskBlur, FULL_RES_OFF);
    }

    /** Whether only the mask's box is inpainted (at the full output size) and pasted back. */
    public boolean fullRes() {
        return fullResPadding != FULL_RES_OFF;
    }

    /** Inpainting without a blurred mask (or image to image when {@code mask} is null). */
    public Img2ImgInput(InitImage image, double strength, InitImage mask) {
        this(image, strength, mask, 0, FULL_RES_OFF);
    }

    /** Image to image without a mask. */
    public Img2ImgInput(InitImage image, double strength) {
        this(image, strength, null, 0, FULL_RES_OFF);
    }

    /** The mask the pipeline binarizes: {@link #mask} blurred by {@link #maskBlur} (PIL's GaussianBlur, per band). */
    public InitImage effectiveMask() {
        if (mask == null || maskBlur == 0) {
            return mask;
        }
        return new InitImage(mask.width(), mask.height(), dev.sdcfg.pipeline.image.PilGaussianBlur.blur(mask.rgb(),
                mask.width(), mask.height(), 3, maskBlur));
    }
}
