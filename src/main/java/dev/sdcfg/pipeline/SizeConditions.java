package dev.sdcfg.pipeline;

/**
 * SDXL's micro-conditioning of one image, as diffusers' {@code StableDiffusionXLPipeline.__call__} takes it:
 * {@code original_size} (height, width), {@code crops_coords_top_left} (y, x) and {@code target_size} (height,
 * width). They become the UNet's six time ids ({@code _get_add_time_ids}); the negative side uses the same ones.
 */
public record SizeConditions(int originalHeight, int originalWidth, int cropTop, int cropLeft, int targetHeight,
                             int targetWidth) {

    /** diffusers' defaults: original and target size = (height, width), crop (0, 0). */
    public static SizeConditions defaults(int width, int height) {
        return new SizeConditions(height, width, 0, 0, height, width);
    }

    /** The request's own, or the defaults for its size. */
    public static SizeConditions of(GenerationRequest r) {
        return r.sizeConditions() != null ? r.sizeConditions() : defaults(r.width(), r.height());
    }

    /** [original h, original w, crop top, crop left, target h, target w], the order of diffusers' time ids. */
    public int[] timeIds() {
        return new int[] {originalHeight, originalWidth, cropTop, cropLeft, targetHeight, targetWidth};
    }
}
