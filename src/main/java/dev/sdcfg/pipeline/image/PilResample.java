package dev.sdcfg.pipeline.image;

/**
 * PIL's {@code Image.resize(size, Image.LANCZOS)} on 8-bit images, bit for bit: Pillow's {@code ImagingResample}
 * (src/libImaging/Resample.c) with its LANCZOS filter (a sinc windowed by a sinc, support 3).
 *
 * <p>What makes it exact rather than close: the coefficients of each output pixel are computed in double
 * ({@code precompute_coeffs}: the filter is stretched by the scale when shrinking, the window is
 * {@code [(int)(center − support + 0.5), (int)(center + support + 0.5))} clipped to the image, the weights divided by
 * their sum), then turned into fixed point with 22 fractional bits ({@code normalize_coeffs_8bpc}: round half away
 * from zero); each pass accumulates {@code u8 · coefficient} in a 32-bit int that starts at one half, and clips
 * {@code sum >> 22} to 0..255. The horizontal pass runs first, over only the rows the vertical pass reads, and its
 * result is rounded to 8 bits before the vertical pass; a pass whose size does not change is skipped, as in Pillow.
 * PIL resamples an RGB image's three bands and an L image's one band with the same arithmetic, so {@code channels}
 * may be 1 or 3 (RGBA would need PIL's premultiplication first).
 */
public final class PilResample {

    /** Pillow's PRECISION_BITS for 8-bit images: 32 − 8 − 2 (two bits of headroom for the negative lobes). */
    private static final int PRECISION_BITS = 22;

    /** Pillow's resampling filters used here, with their support. */
    public enum Filter {
        /** sinc(x)·sinc(x/3) on [−3, 3): {@code Image.LANCZOS}. */
        LANCZOS(3.0),
        /** Keys' cubic with a = −0.5 on (−2, 2): {@code Image.BICUBIC}, what {@code Image.resize} uses unless told. */
        BICUBIC(2.0);

        final double support;

        Filter(double support) {
            this.support = support;
        }

        double apply(double x) {
            return this == LANCZOS ? lanczosFilter(x) : bicubicFilter(x);
        }
    }

    private PilResample() {
    }

    /**
     * {@code Image.resize((outWidth, outHeight), Image.LANCZOS)} of a row-major interleaved 8-bit image.
     *
     * @param pixels   {@code height × width × channels} bytes
     * @param channels 1 (PIL mode L) or 3 (RGB)
     */
    public static byte[] lanczos(byte[] pixels, int width, int height, int channels, int outWidth, int outHeight) {
        return lanczos(pixels, width, height, channels, outWidth, outHeight, 0, 0, width, height);
    }

    /**
     * {@code Image.resize((outWidth, outHeight), Image.LANCZOS, box=(x0, y0, x1, y1))}: the source region
     * {@code box} (PIL's floats; an empty extent, as diffusers' "fill" resize uses to stretch a border row, samples
     * the filter around that edge) resampled to the output size.
     */
    public static byte[] lanczos(byte[] pixels, int width, int height, int channels, int outWidth, int outHeight,
                                 float x0, float y0, float x1, float y1) {
        return resample(Filter.LANCZOS, pixels, width, height, channels, outWidth, outHeight, x0, y0, x1, y1);
    }

    /** {@code Image.resize((outWidth, outHeight), filter, box=(x0, y0, x1, y1))} of an 8-bit image. */
    public static byte[] resample(Filter filter, byte[] pixels, int width, int height, int channels, int outWidth,
                                  int outHeight, float x0, float y0, float x1, float y1) {
        if (pixels.length != width * height * channels || outWidth < 1 || outHeight < 1) {
            throw new IllegalArgumentException("bad image or size: " + width + "x" + height + "x" + channels + " -> "
                    + outWidth + "x" + outHeight);
        }
        boolean wholeImage = x0 == 0 && y0 == 0 && x1 == width && y1 == height;
        if (width == outWidth && height == outHeight && wholeImage) {
            return pixels.clone(); // Image.resize returns a copy for its own size
        }
        // ImagingResampleInner's tests, box edges included
        boolean needHorizontal = outWidth != width || x0 != 0 || x1 != outWidth;
        boolean needVertical = outHeight != height || y0 != 0 || y1 != outHeight;
        Coefficients vertical = Coefficients.of(filter, height, y0, y1, outHeight);
        byte[] in = pixels;
        int rows = height;
        int firstRow = 0;
        if (needHorizontal) {
            // only the rows the vertical pass reads: bounds_vert[0] .. the last window's end
            firstRow = vertical.start[0];
            int lastRow = vertical.start[outHeight - 1] + vertical.count[outHeight - 1];
            rows = lastRow - firstRow;
            in = horizontal(pixels, width, channels, firstRow, rows, Coefficients.of(filter, width, x0, x1, outWidth));
        }
        if (!needVertical) {
            return in;
        }
        return vertical(in, needHorizontal ? outWidth : width, channels, firstRow, vertical);
    }

    private static byte[] horizontal(byte[] in, int width, int channels, int firstRow, int rows, Coefficients c) {
        int outWidth = c.start.length;
        byte[] out = new byte[rows * outWidth * channels];
        for (int y = 0; y < rows; y++) {
            int rowIn = (y + firstRow) * width * channels;
            for (int x = 0; x < outWidth; x++) {
                int xmin = c.start[x];
                int n = c.count[x];
                int k = x * c.size;
                for (int ch = 0; ch < channels; ch++) {
                    int ss = 1 << (PRECISION_BITS - 1);
                    for (int i = 0; i < n; i++) {
                        ss += (in[rowIn + (xmin + i) * channels + ch] & 0xff) * c.fixed[k + i];
                    }
                    out[(y * outWidth + x) * channels + ch] = clip8(ss);
                }
            }
        }
        return out;
    }

    /** {@code in} holds the rows from {@code firstRow} on (the horizontal pass's output, or the whole image). */
    private static byte[] vertical(byte[] in, int width, int channels, int firstRow, Coefficients c) {
        int outHeight = c.start.length;
        int rowBytes = width * channels;
        byte[] out = new byte[outHeight * rowBytes];
        for (int y = 0; y < outHeight; y++) {
            int ymin = c.start[y] - firstRow;
            int n = c.count[y];
            int k = y * c.size;
            for (int b = 0; b < rowBytes; b++) {
                int ss = 1 << (PRECISION_BITS - 1);
                for (int i = 0; i < n; i++) {
                    ss += (in[(ymin + i) * rowBytes + b] & 0xff) * c.fixed[k + i];
                }
                out[y * rowBytes + b] = clip8(ss);
            }
        }
        return out;
    }

    /** Pillow's clip8: the integer part of the fixed-point sum (arithmetic shift), clipped to 0..255. */
    private static byte clip8(int ss) {
        int v = ss >> PRECISION_BITS;
        return (byte) (v < 0 ? 0 : Math.min(v, 255));
    }

    /** Pillow's lanczos_filter: sinc(x)·sinc(x/3) on [−3, 3). */
    static double lanczosFilter(double x) {
        if (-3.0 <= x && x < 3.0) {
            return sinc(x) * sinc(x / 3);
        }
        return 0.0;
    }

    /** Pillow's bicubic_filter (a = −0.5). */
    static double bicubicFilter(double x) {
        final double a = -0.5;
        if (x < 0.0) {
            x = -x;
        }
        if (x < 1.0) {
            return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        }
        if (x < 2.0) {
            return (((x - 5) * x + 8) * x - 4) * a;
        }
        return 0.0;
    }

    private static double sinc(double x) {
        if (x == 0.0) {
            return 1.0;
        }
        x = x * Math.PI;
        return StrictMath.sin(x) / x; // fdlibm: the same bits on every JVM (glibc's sin is within an ulp of it)
    }

    /**
     * precompute_coeffs + normalize_coeffs_8bpc for one axis: the box edges {@code in0..in1} of an axis of
     * {@code inSize} pixels → {@code outSize}.
     */
    private record Coefficients(int size, int[] start, int[] count, int[] fixed) {

        static Coefficients of(Filter filter, int inSize, float in0, float in1, int outSize) {
            double scale = (double) (in1 - in0) / outSize; // the box edges are floats, their difference too
            double filterScale = Math.max(scale, 1.0);
            double support = filter.support * filterScale;
            int size = (int) Math.ceil(support) * 2 + 1;
            int[] start = new int[outSize];
            int[] count = new int[outSize];
            int[] fixed = new int[outSize * size];
            double[] k = new double[size];
            for (int xx = 0; xx < outSize; xx++) {
                double center = in0 + (xx + 0.5) * scale;
                double ss = 1.0 / filterScale;
                int xmin = (int) (center - support + 0.5); // C's cast truncates toward zero, as Java's
                if (xmin < 0) {
                    xmin = 0;
                }
                int xmax = (int) (center + support + 0.5);
                if (xmax > inSize) {
                    xmax = inSize;
                }
                xmax -= xmin;
                double ww = 0.0;
                for (int x = 0; x < xmax; x++) {
                    double w = filter.apply((x + xmin - center + 0.5) * ss);
                    k[x] = w;
                    ww += w;
                }
                for (int x = 0; x < xmax; x++) {
                    double v = ww != 0.0 ? k[x] / ww : k[x];
                    fixed[xx * size + x] = v < 0 ? (int) (-0.5 + v * (1 << PRECISION_BITS))
                            : (int) (0.5 + v * (1 << PRECISION_BITS));
                }
                start[xx] = xmin;
                count[xx] = xmax;
            }
            return new Coefficients(size, start, count, fixed);
        }
    }
}
