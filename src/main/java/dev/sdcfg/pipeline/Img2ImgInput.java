package dev.sdcfg.pipeline;

/**
 * The image-to-image part of a {@link GenerationRequest}: the start image and how much of the schedule re-draws it.
 *
 * @param image    the decoded start image; the request's width and height must equal its size
 * @param strength 0..1: the loop runs the last {@code min(int(steps · strength), steps)} of the {@code steps}
 *                 scheduled steps (diffusers' {@code get_timesteps}), starting from the image's latents noised to the
 *                 first of them; 1 starts from (almost) pure noise, small values change little
 */
public record Img2ImgInput(InitImage image, double strength) {

    public Img2ImgInput {
        if (image == null) {
            throw new IllegalArgumentException("image is required");
        }
    }
}
