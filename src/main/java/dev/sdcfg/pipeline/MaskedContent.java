package dev.sdcfg.pipeline;

import dev.sdcfg.pipeline.image.PilGaussianBlur;

import java.util.Locale;

/**
 * What the area to repaint starts from (A1111's {@code inpainting_fill}, "Masked content";
 * modules/processing.py {@code StableDiffusionProcessingImg2Img.init}), applied to the input of diffusers'
 * inpainting pipeline as A1111 applies it to its own: {@link #FILL} changes the start image, the latent modes the
 * image's latents the start is noised from. The latent modes act where the pipeline's latent mask repaints and only
 * below strength 1 (at 1 the start is pure noise).
 */
public enum MaskedContent {
    /** The image as it is (diffusers' behaviour). */
    ORIGINAL("original"),
    /** A1111's {@code masking.fill}: the masked area filled with blurred colours from around it. */
    FILL("fill"),
    /** A1111's {@code init_latent * mask + randn(seed) * nmask}: noise from a fresh generator seeded with the seed. */
    LATENT_NOISE("latent_noise"),
    /** A1111's {@code init_latent * mask}: zero latents. */
    LATENT_NOTHING("latent_nothing");

    /** masking.fill's blur passes: (radius, times composited). */
    private static final int[][] FILL_PASSES = {{256, 1}, {64, 1}, {16, 2}, {4, 4}, {2, 2}, {0, 1}};

    private final String value;

    MaskedContent(String value) {
        this.value = value;
    }

    public String value() {
        return value;
    }

    /** The mode a request names, or null. */
    public static MaskedContent of(String name) {
        for (MaskedContent c : values()) {
            if (c.value.equals(name == null ? null : name.toLowerCase(Locale.ROOT))) {
                return c;
            }
        }
        return null;
    }

    /**
     * A1111's {@code masking.fill(image, mask)} in PIL's 8-bit arithmetic: the image premultiplied by the inverted
     * mask's grey (PIL's paste with an L mask into an empty RGBa image), blurred (GaussianBlur on the four premultiplied
     * bands) with radii 256, 64, 16, 4, 2 and 0, each un-premultiplied ({@code convert("RGBA")}) and alpha-composited
     * the given number of times over an empty RGBA image; the result's colour bands.
     */
    static InitImage fill(InitImage image, InitImage mask) {
        int w = image.width();
        int h = image.height();
        int[] grey = Inpaint.grey(mask);
        byte[] masked = new byte[w * h * 4]; // RGBa
        for (int i = 0; i < w * h; i++) {
            int alpha = 255 - grey[i];
            for (int c = 0; c < 3; c++) {
                masked[i * 4 + c] = (byte) div255((image.rgb()[i * 3 + c] & 0xff) * alpha);
            }
            masked[i * 4 + 3] = (byte) div255(255 * alpha);
        }
        int[] mod = new int[w * h * 4]; // RGBA, transparent black
        for (int[] pass : FILL_PASSES) {
            byte[] blurred = PilGaussianBlur.blur(masked, w, h, 4, pass[0]);
            for (int k = 0; k < pass[1]; k++) {
                for (int i = 0; i < w * h; i++) {
                    compositeOver(mod, i * 4, blurred, i * 4);
                }
            }
        }
        byte[] rgb = new byte[w * h * 3];
        for (int i = 0; i < w * h; i++) {
            for (int c = 0; c < 3; c++) {
                rgb[i * 3 + c] = (byte) mod[i * 4 + c];
            }
        }
        return new InitImage(w, h, rgb);
    }

    /**
     * {@code dst.alpha_composite(src)} for one pixel, src given premultiplied (RGBa) and un-premultiplied first as
     * {@code convert("RGBA")} does (Convert.c rgba2rgbA: {@code 255·c / α} truncated, clipped; unchanged at α 0 or
     * 255); AlphaComposite.c with 7 extra bits of precision.
     */
    private static void compositeOver(int[] dst, int d, byte[] srcPremultiplied, int s) {
        int sa = srcPremultiplied[s + 3] & 0xff;
        if (sa == 0) {
            return; // the destination is kept as it is
        }
        int da = dst[d + 3];
        long blend = (long) da * (255 - sa);
        long outA255 = sa * 255L + blend;
        long coef1 = sa * 255L * 255L * (1 << 7) / outA255;
        long coef2 = 255L * (1 << 7) - coef1;
        for (int c = 0; c < 3; c++) {
            int p = srcPremultiplied[s + c] & 0xff;
            int src = sa == 255 ? p : Math.min(255, 255 * p / sa);
            long tmp = src * coef1 + dst[d + c] * coef2 + (0x80L << 7);
            dst[d + c] = (int) ((((tmp >> 8) + tmp) >> 8) >> 7);
        }
        long a = outA255 + 0x80;
        dst[d + 3] = (int) (((a >> 8) + a) >> 8);
    }

    /** PIL's DIV255. */
    private static int div255(int a) {
        int t = a + 128;
        return ((t >> 8) + t) >> 8;
    }
}
