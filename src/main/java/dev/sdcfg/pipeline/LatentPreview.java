package dev.sdcfg.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.pipeline.image.PngEncoder;

import java.util.Map;

/**
 * Live previews without the VAE: the sampler's current x0 estimate (latents in the UNet's space, not divided by the
 * VAE's scaling_factor) mapped to RGB by the fixed linear latent→RGB projection that A1111 calls "Approx cheap"
 * ({@code modules/sd_vae_approx.py cheap_approximation}, then {@code sd_samplers_common.single_sample_to_image}):
 * {@code rgb = einsum("lxy,lr->rxy", x0, C)}, then {@code x·0.5 + 0.5}, clamped to [0, 1], times 255, truncated to
 * uint8. The image has the latent's size (image size / VAE scale factor: 64×64 for 512×512), as A1111's; clients
 * scale it up.
 *
 * <p>The coefficients are A1111's for SD 1.x and 2.x (one table for both). SDXL's latent space has its own
 * coefficients in later A1111 versions; this service has no model-family notion yet, so previews of other latent
 * spaces with 4 channels would show wrong colours, and latents with another channel count get no preview.
 *
 * <p>Cost: {@link #render} is the only place a preview step reads the device (one copy of x0, 4·h·w floats); the
 * projection and the PNG are host work on the worker thread. With previews off nothing here runs.
 */
public final class LatentPreview {

    /** A1111's cheap_approximation table for SD 1.x/2.x: one row per latent channel, columns R, G, B. */
    static final float[][] SD_COEFFICIENTS = {
            {0.298f, 0.207f, 0.208f},
            {0.187f, 0.286f, 0.173f},
            {-0.158f, 0.189f, 0.264f},
            {-0.184f, -0.271f, -0.473f},
    };

    /** A preview image: PNG bytes of {@code width × height} RGB pixels. */
    public record Image(int width, int height, byte[] png) {
    }

    private LatentPreview() {
    }

    /** True when the projection applies to latents with {@code channels} channels. */
    public static boolean supports(int channels) {
        return channels == SD_COEFFICIENTS.length;
    }

    /**
     * The projection on the host: {@code latent} is one image's x0 in CHW order ({@code 4 × height × width} floats);
     * the result is HWC RGB bytes as A1111's single_sample_to_image makes them (float32 arithmetic, truncation).
     */
    public static byte[] toRgb(float[] latent, int height, int width) {
        int plane = height * width;
        int channels = SD_COEFFICIENTS.length;
        if (latent.length != channels * plane) {
            throw new IllegalArgumentException("expected " + channels + "×" + height + "×" + width + " latent values, got "
                    + latent.length);
        }
        byte[] rgb = new byte[3 * plane];
        for (int p = 0; p < plane; p++) {
            for (int c = 0; c < 3; c++) {
                float v = 0f;
                for (int l = 0; l < channels; l++) {
                    v += latent[l * plane + p] * SD_COEFFICIENTS[l][c];
                }
                v = v * 0.5f + 0.5f;
                v = Math.min(1f, Math.max(0f, v));
                rgb[3 * p + c] = (byte) (int) (255f * v); // numpy astype(uint8) / torch .to(uint8): truncation
            }
        }
        return rgb;
    }

    /**
     * The preview of image 0 of {@code x0} ([B, 4, h, w], any float dtype, on any device). This is the preview
     * step's one device→host copy; callers make it only on preview steps.
     */
    public static Image render(NDArray x0) {
        Shape s = x0.getShape();
        if (s.dimension() != 4 || !supports((int) s.get(1))) {
            throw new IllegalArgumentException("previews need [B, " + SD_COEFFICIENTS.length + ", h, w] latents, got " + s);
        }
        int h = (int) s.get(2);
        int w = (int) s.get(3);
        NDArray first = x0.get(0);
        NDArray f32 = first.getDataType() == DataType.FLOAT32 ? first : first.toType(DataType.FLOAT32, false);
        try {
            float[] host = f32.toFloatArray();
            return new Image(w, h, PngEncoder.encodeRgb(toRgb(host, h, w), w, h, Map.of()));
        } finally {
            if (f32 != first) {
                f32.close();
            }
            first.close();
        }
    }
}
