package dev.sdcfg.api;

import dev.sdcfg.pipeline.SizeConditions;

import java.util.List;

/**
 * The request fields of SDXL's micro-conditioning ({@code original_size}, {@code crops_coords_top_left},
 * {@code target_size}: diffusers' StableDiffusionXLPipeline arguments, each a pair). Absent fields take diffusers'
 * defaults for the request's size; all absent gives null (the pipeline's defaults). Whether the model takes them at
 * all is the pipeline's check (an SD 1.x/2.x model refuses them).
 */
final class SdxlSizeFields {

    /** Bound on every value (far above any training resolution). */
    static final int MAX = 16384;

    private SdxlSizeFields() {
    }

    /** @param wh the request's [width, height] */
    static SizeConditions parse(ImageGenerationRequest b, int[] wh, List<FieldError> errors) {
        if (b.originalSize() == null && b.cropsCoordsTopLeft() == null && b.targetSize() == null) {
            return null;
        }
        int[] original = pair("original_size", b.originalSize(), new int[] {wh[1], wh[0]}, 1, errors);
        int[] crop = pair("crops_coords_top_left", b.cropsCoordsTopLeft(), new int[] {0, 0}, 0, errors);
        int[] target = pair("target_size", b.targetSize(), new int[] {wh[1], wh[0]}, 1, errors);
        return new SizeConditions(original[0], original[1], crop[0], crop[1], target[0], target[1]);
    }

    private static int[] pair(String field, List<Integer> v, int[] dflt, int min, List<FieldError> errors) {
        if (v == null) {
            return dflt;
        }
        if (v.size() != 2 || v.get(0) == null || v.get(1) == null || v.get(0) < min || v.get(1) < min
                || v.get(0) > MAX || v.get(1) > MAX) {
            errors.add(new FieldError(field, "must be two integers [" + (min == 0 ? "y, x" : "height, width")
                    + "] within " + min + ".." + MAX));
            return dflt;
        }
        return new int[] {v.get(0), v.get(1)};
    }
}
