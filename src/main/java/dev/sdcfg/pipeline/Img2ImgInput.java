package dev.sdcfg.pipeline;

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
 */
public record Img2ImgInput(InitImage image, double strength, InitImage mask, int maskBlur) {

    /** The largest mask_blur accepted (A1111's slider ends at 64). */
    public static final int MAX_MASK_BLUR = 64;

    public Img2ImgInput {
        if (image == null) {
            throw new IllegalArgumentException("image is required");
        }
        if (maskBlur < 0 || maskBlur > MAX_MASK_BLUR || (maskBlur > 0 && mask == null)) {
            throw new IllegalArgumentException("mask_blur must be within 0.." + MAX_MASK_BLUR + ", with a mask");
        }
    }

    /** Inpainting without a blurred mask (or image to image when {@code mask} is null). */
    public Img2ImgInput(InitImage image, double strength, InitImage mask) {
        this(image, strength, mask, 0);
    }

    /** Image to image without a mask. */
    public Img2ImgInput(InitImage image, double strength) {
        this(image, strength, null, 0);
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
