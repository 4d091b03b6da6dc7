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
 */
public record Img2ImgInput(InitImage image, double strength, InitImage mask) {

    public Img2ImgInput {
        if (image == null) {
            throw new IllegalArgumentException("image is required");
        }
    }

    /** Image to image without a mask. */
    public Img2ImgInput(InitImage image, double strength) {
        this(image, strength, null);
    }
}
