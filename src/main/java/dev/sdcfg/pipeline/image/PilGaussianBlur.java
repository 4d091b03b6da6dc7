package dev.sdcfg.pipeline.image;

/**
 * PIL's {@code image.filter(ImageFilter.GaussianBlur(radius))} on 8-bit images, bit for bit: Pillow's
 * {@code ImagingGaussianBlur} (src/libImaging/BoxBlur.c), which is not a sampled Gaussian but three passes of a box
 * blur per axis whose length has a fractional part (Gwosdek et al., "Theoretical foundations of Gaussian convolution
 * by extended box filtering", 2011).
 *
 * <p>What makes it exact rather than close: the box radius is computed in single precision as Pillow does
 * ({@code _gaussian_blur_radius}: σ² = r²/3 in float, the box length in double rounded to float, its integer part
 * and fractional extension in float); each output is {@code (acc · ww + (left + right) · fw + 2²³) >> 24} in unsigned
 * 32-bit fixed point, where {@code acc} sums the {@code 2·⌊radius⌋ + 1} inner pixels, {@code ww = (u32)(2²⁴ /
 * (2·radius + 1))} in float and {@code fw} gives the two outer pixels the rest; pixels beyond an edge repeat the edge
 * pixel. All three horizontal passes run, each rounded to 8 bits, then all three vertical ones (Pillow transposes the
 * image and blurs its rows). Each band is blurred on its own, so {@code channels} may be 1 (L) or 3 (RGB).
 */
public final class PilGaussianBlur {

    /** ImageFilter.GaussianBlur's passes (ImagingGaussianBlur is called with 3). */
    private static final int PASSES = 3;

    private PilGaussianBlur() {
    }

    /**
     * {@code image.filter(ImageFilter.GaussianBlur(radius))} of a row-major interleaved 8-bit image; radius 0 is a
     * copy, as PIL's.
     */
    public static byte[] blur(byte[] pixels, int width, int height, int channels, double radius) {
        if (pixels.length != width * height * channels || !(radius >= 0)) {
            throw new IllegalArgumentException("bad image or radius: " + width + "x" + height + "x" + channels
                    + ", radius " + radius);
        }
        byte[] out = pixels.clone();
        if (radius == 0) {
            return out;
        }
        float box = boxRadius((float) radius);
        if (box == 0) {
            return out;
        }
        int[] line = new int[Math.max(width, height)];
        int[] blurred = new int[line.length];
        for (int c = 0; c < channels; c++) {
            for (int y = 0; y < height; y++) { // rows: all passes
                int base = y * width * channels + c;
                for (int x = 0; x < width; x++) {
                    line[x] = out[base + x * channels] & 0xff;
                }
                for (int p = 0; p < PASSES; p++) {
                    blurLine(line, blurred, width, box);
                    System.arraycopy(blurred, 0, line, 0, width);
                }
                for (int x = 0; x < width; x++) {
                    out[base + x * channels] = (byte) line[x];
                }
            }
            for (int x = 0; x < width; x++) { // then columns: all passes
                int base = x * channels + c;
                for (int y = 0; y < height; y++) {
                    line[y] = out[base + y * width * channels] & 0xff;
                }
                for (int p = 0; p < PASSES; p++) {
                    blurLine(line, blurred, height, box);
                    System.arraycopy(blurred, 0, line, 0, height);
                }
                for (int y = 0; y < height; y++) {
                    out[base + y * width * channels] = (byte) line[y];
                }
            }
        }
        return out;
    }

    /** Pillow's {@code _gaussian_blur_radius} for 3 passes, in its float/double mix. */
    static float boxRadius(float radius) {
        float sigma2 = radius * radius / PASSES;
        float boxLength = (float) Math.sqrt(12.0 * sigma2 + 1.0);
        float l = (float) Math.floor((boxLength - 1.0) / 2.0);
        float a = (2 * l + 1) * (l * (l + 1) - 3 * sigma2);
        a /= 6 * (sigma2 - (l + 1) * (l + 1));
        return l + a;
    }

    /**
     * One pass of {@code ImagingLineBoxBlur8} over {@code n} values: a running sum of the inner window, the two
     * outer pixels weighted by {@code fw}; unsigned 32-bit arithmetic (the sums stay below 2³²), kept in longs.
     */
    private static void blurLine(int[] in, int[] out, int n, float floatRadius) {
        int radius = (int) floatRadius;
        long ww = (long) ((float) (1 << 24) / (floatRadius * 2 + 1)) & 0xffffffffL;
        long fw = (((1L << 24) - (long) (radius * 2 + 1) * ww) & 0xffffffffL) / 2;
        int lastx = n - 1;
        int edgeA = Math.min(radius + 1, n);
        int edgeB = Math.max(n - radius - 1, 0);
        // the window of the pixel before 0: radius + 1 copies of pixel 0, then pixels 0 .. radius − 1
        long acc = (long) in[0] * (radius + 1);
        for (int x = 0; x < edgeA - 1; x++) {
            acc += in[x];
        }
        acc += (long) in[lastx] * (radius - edgeA + 1);
        if (edgeA <= edgeB) {
            for (int x = 0; x < edgeA; x++) {
                acc += in[x + radius] - in[0];
                out[x] = save(acc, ww, fw, in[0], in[x + radius + 1]);
            }
            for (int x = edgeA; x < edgeB; x++) {
                acc += in[x + radius] - in[x - radius - 1];
                out[x] = save(acc, ww, fw, in[x - radius - 1], in[x + radius + 1]);
            }
            for (int x = edgeB; x <= lastx; x++) {
                acc += in[lastx] - in[x - radius - 1];
                out[x] = save(acc, ww, fw, in[x - radius - 1], in[lastx]);
            }
        } else {
            for (int x = 0; x < edgeB; x++) {
                acc += in[x + radius] - in[0];
                out[x] = save(acc, ww, fw, in[0], in[x + radius + 1]);
            }
            for (int x = edgeB; x < edgeA; x++) {
                acc += in[lastx] - in[0];
                out[x] = save(acc, ww, fw, in[0], in[lastx]);
            }
            for (int x = edgeA; x <= lastx; x++) {
                acc += in[lastx] - in[x - radius - 1];
                out[x] = save(acc, ww, fw, in[x - radius - 1], in[lastx]);
            }
        }
    }

    /** {@code (UINT8)((acc · ww + (left + right) · fw + 2²³) >> 24)} in unsigned 32-bit arithmetic. */
    private static int save(long acc, long ww, long fw, int left, int right) {
        long bulk = ((acc & 0xffffffffL) * ww + (long) (left + right) * fw) & 0xffffffffL;
        return (int) ((((bulk + (1L << 23)) & 0xffffffffL) >>> 24) & 0xff);
    }
}
