package dev.sdcfg.pipeline;

/**
 * The mask of diffusers' {@code StableDiffusionInpaintPipeline}, on the host: {@code mask_processor.preprocess}
 * (VaeImageProcessor with do_convert_grayscale, no normalization, do_binarize), the masked image
 * ({@code init_image * (mask < 0.5)}) and {@code prepare_mask_latents}' nearest-neighbour resize to latent size.
 */
final class Inpaint {

    private Inpaint() {
    }

    /**
     * PIL's {@code convert("L")} of each pixel ({@code (R·19595 + G·38470 + B·7471 + 0x8000) >> 16}), divided by 255
     * in float32 and binarized at 0.5: 1 repaints, 0 keeps. Row-major H×W.
     */
    static float[] maskCondition(InitImage mask) {
        int[] grey = grey(mask);
        float[] out = new float[grey.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = grey[i] / 255f < 0.5f ? 0f : 1f;
        }
        return out;
    }

    /** PIL's {@code convert("L")} of an RGB image: ITU-R 601-2 luma in 16-bit fixed point. */
    static int[] grey(InitImage image) {
        byte[] rgb = image.rgb();
        int[] out = new int[image.width() * image.height()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ((rgb[3 * i] & 0xff) * 19595 + (rgb[3 * i + 1] & 0xff) * 38470 + (rgb[3 * i + 2] & 0xff) * 7471
                    + 0x8000) >> 16;
        }
        return out;
    }

    /** {@code image * (mask < 0.5)} for CHW pixels and an H×W mask: repainted pixels become 0 (mid grey). */
    static float[] maskedPixels(float[] chw, float[] condition) {
        float[] out = chw.clone();
        int plane = condition.length;
        for (int c = 0; c < out.length / plane; c++) {
            for (int i = 0; i < plane; i++) {
                if (condition[i] >= 0.5f) {
                    out[c * plane + i] = 0f;
                }
            }
        }
        return out;
    }

    /**
     * {@code torch.nn.functional.interpolate(mask, size=(H/f, W/f))} (mode "nearest": source index
     * {@code floor(i · f)}), i.e. the top-left pixel of each f×f block.
     */
    static float[] latentMask(float[] condition, int width, int height, int f) {
        int w = width / f;
        int h = height / f;
        float[] out = new float[w * h];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                out[y * w + x] = condition[(y * f) * width + x * f];
            }
        }
        return out;
    }
}
