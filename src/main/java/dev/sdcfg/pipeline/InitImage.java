package dev.sdcfg.pipeline;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Iterator;

/**
 * An input image from an untrusted client, decoded to 8-bit RGB (row-major HWC bytes, as PIL's
 * {@code np.array(image.convert("RGB"))}).
 *
 * <p>{@link #decode} trusts nothing in the bytes: the format is told by the content (PNG, JPEG and WebP
 * signatures; a file name or declared type plays no part), the declared width and height are read from the header
 * and checked against the pixel limit <em>before</em> any pixel is decoded (so a small file declaring a huge canvas,
 * a decompression bomb, costs nothing), and any decoder failure becomes a 4xx naming the field. Alpha is dropped
 * as PIL's {@code convert("RGB")} drops it (the stored colour values are kept, not composited); grey images are
 * replicated into three channels as PIL does (not gamma-converted as AWT's {@code getRGB} would), 16-bit samples
 * reduced as PIL reduces them (RGB: the high byte; grey: clipped at 255); a JPEG's or WebP's EXIF
 * orientation is applied (diffusers' {@code load_image} applies {@code ImageOps.exif_transpose}; a PNG's eXIf
 * chunk is not read). An embedded ICC colour profile (PNG iCCP, JPEG APP2, WebP ICCP) is applied: the pixels are
 * converted to sRGB as Pillow's {@code ImageCms.profileToProfile} converts them, an sRGB profile leaves them as they
 * are, and a profile that cannot be used is refused; see {@link ColorProfiles}. (diffusers' {@code load_image} does
 * not apply profiles: for a non-sRGB image this service starts from the colours the client sees, diffusers from the
 * stored values.)
 *
 * <p>WebP is read by {@link WebpContainer} (size, animation, alpha, EXIF), then decoded by one of two readers, both
 * giving libwebp's values exactly (libwebp is what PIL, and so diffusers, decode with; InitImageWebpTest compares
 * to Pillow's decode byte for byte). Lossless WebP (VP8L, with or without alpha) goes to TwelveMonkeys' pure-Java
 * reader. Lossy WebP (VP8, with or without an ALPH chunk) goes to libwebp itself, 1.6.0 as bundled for
 * linux-x86_64 in {@code com.github.usefulness:webp-imageio} (loaded from the jar through a copy in
 * {@code java.io.tmpdir} at the first lossy decode): TwelveMonkeys 3.14.0's own VP8 decoder differs from libwebp
 * by far more than rounding (up to 61 levels on the test fixtures, 255 on others, the error growing across the
 * image). Lossless stays with the pure-Java reader so that native code sees only lossy files (libwebp's VP8L
 * decoder was the site of CVE-2023-4863). Animated WebP is refused.
 *
 * @param width  pixels per row (after the EXIF orientation)
 * @param height rows
 * @param rgb    {@code height × width × 3} bytes
 */
public record InitImage(int width, int height, byte[] rgb) {

    /** Longest side accepted whatever the pixel limit (a 1×10⁸ strip is no image anyone generates from). */
    public static final int MAX_SIDE = 16384;

    public InitImage {
        if (width < 1 || height < 1 || rgb.length != width * height * 3) {
            throw new IllegalArgumentException("rgb must hold " + width + "x" + height + "x3 bytes");
        }
    }

    /** The formats accepted, told by their signatures. */
    enum Format {
        PNG("png"), JPEG("jpeg"), WEBP("webp");

        final String readerName;

        Format(String readerName) {
            this.readerName = readerName;
        }

        static Format sniff(byte[] b) {
            if (b.length >= 8 && (b[0] & 0xff) == 0x89 && b[1] == 'P' && b[2] == 'N' && b[3] == 'G' && b[4] == 0x0d
                    && b[5] == 0x0a && b[6] == 0x1a && b[7] == 0x0a) {
                return PNG;
            }
            if (b.length >= 3 && (b[0] & 0xff) == 0xff && (b[1] & 0xff) == 0xd8 && (b[2] & 0xff) == 0xff) {
                return JPEG;
            }
            if (b.length >= 12 && b[0] == 'R' && b[1] == 'I' && b[2] == 'F' && b[3] == 'F' && b[8] == 'W'
                    && b[9] == 'E' && b[10] == 'B' && b[11] == 'P') {
                return WEBP;
            }
            return null;
        }
    }

    /**
     * Decodes {@code data} (PNG, JPEG or WebP), refusing images over {@code maxPixels} pixels or {@link #MAX_SIDE}
     * a side before decoding them. Every refusal is an {@link InvalidRequestException} on {@code field}.
     */
    public static InitImage decode(byte[] data, String field, long maxPixels) {
        // the embedded colour profile, read and tried out before any pixel is decoded
        ColorProfiles.ToSrgb toSrgb = ColorProfiles.toSrgb(data, field);
        Loaded loaded = load(data, field, maxPixels);
        return toSrgb.apply(fromImage(loaded.image()), loaded.image(), field).oriented(loaded.orientation());
    }

    /**
     * OpenAI's edit mask from an image's alpha channel: white (repaint) where a pixel is fully transparent, black
     * (keep) elsewhere; null when the image has no alpha channel. Same checks and refusals as {@link #decode}.
     */
    public static InitImage transparentAreas(byte[] data, String field, long maxPixels) {
        Loaded loaded = load(data, field, maxPixels);
        BufferedImage img = loaded.image();
        if (!img.getColorModel().hasAlpha()) {
            return null;
        }
        int w = img.getWidth();
        int h = img.getHeight();
        byte[] rgb = new byte[w * h * 3];
        int[] row = new int[w];
        for (int y = 0; y < h; y++) {
            img.getRGB(0, y, w, 1, row, 0, w);
            for (int x = 0; x < w; x++) {
                byte v = (row[x] >>> 24) == 0 ? (byte) 255 : 0;
                int o = (y * w + x) * 3;
                rgb[o] = rgb[o + 1] = rgb[o + 2] = v;
            }
        }
        // turned upright as decode turns the image, so that a WebP's mask lines up with its pixels
        return new InitImage(w, h, rgb).oriented(loaded.orientation());
    }

    /** A decoded image and the EXIF orientation (1..8) still to apply to it. */
    private record Loaded(BufferedImage image, int orientation) {
    }

    private static Loaded load(byte[] data, String field, long maxPixels) {
        Format format = sniffOrRefuse(data, field);
        return switch (format) {
            case PNG -> new Loaded(read(data, Decoder.IMAGEIO, format, field, maxPixels), 1);
            // the JPEG reader would apply an embedded profile itself (towards the JDK's sRGB): see ColorProfiles
            case JPEG -> new Loaded(read(ColorProfiles.jpegWithoutProfile(data), Decoder.IMAGEIO, format, field, maxPixels),
                    ExifOrientation.of(data));
            case WEBP -> {
                WebpContainer c;
                try {
                    c = WebpContainer.parse(data);
                } catch (WebpContainer.Refused e) {
                    throw new InvalidRequestException(field, field + " " + e.getMessage());
                }
                // the declared size, checked before the decoder sees a byte
                checkDeclared(field, c.width(), c.height(), maxPixels);
                yield new Loaded(read(c.still(), c.lossy() ? Decoder.LIBWEBP : Decoder.IMAGEIO, format, field,
                        maxPixels), c.orientation());
            }
        };
    }

    private static Format sniffOrRefuse(byte[] data, String field) {
        if (data == null || data.length == 0) {
            throw new InvalidRequestException(field, field + " is empty");
        }
        Format format = Format.sniff(data);
        if (format == null) {
            throw new InvalidRequestException(field, field + " is not a PNG, JPEG or WebP image (told by its content: "
                    + "unknown signature)");
        }
        return format;
    }

    /** Who decodes: ImageIO's reader for the format (TwelveMonkeys' for WebP), or libwebp (lossy WebP only). */
    private enum Decoder { IMAGEIO, LIBWEBP }

    /** The decoded image, its declared size checked first; decoder failures name the field. */
    private static BufferedImage read(byte[] data, Decoder decoder, Format format, String field, long maxPixels) {
        // WebP: a stream that stops a decoder reading on and on past the end (see BoundedImageInputStream)
        try (ImageInputStream in = format == Format.WEBP ? new BoundedImageInputStream(data)
                : new MemoryCacheImageInputStream(new ByteArrayInputStream(data))) {
            ImageReader reader = decoder == Decoder.LIBWEBP ? libwebpReader() : reader(format);
            try {
                reader.setInput(in, true, true);
                int w = reader.getWidth(0);
                int h = reader.getHeight(0);
                checkDeclared(field, w, h, maxPixels);
                return decoder == Decoder.LIBWEBP ? readLibwebp(reader) : reader.read(0);
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            if (e instanceof InvalidRequestException ire) {
                throw ire;
            }
            if (e instanceof IllegalStateException ise && ise.getMessage() != null
                    && ise.getMessage().startsWith("no ImageIO reader")) {
                throw ise;
            }
            throw new InvalidRequestException(field, field + " could not be decoded as " + format + ": "
                    + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()));
        }
    }

    /**
     * The reader for a format. WebP's is created from TwelveMonkeys' SPI class directly rather than looked up in
     * ImageIO's registry: the registry finds plugins through META-INF/services with the class loader current when
     * ImageIO is first used, which in a Quarkus application (its own class loaders, fast-jar layout) need not be
     * the one holding the plugin; naming the class also rules out another WebP plugin on the class path.
     */
    private static ImageReader reader(Format format) throws IOException {
        if (format == Format.WEBP) {
            return WEBP_READERS.createReaderInstance(null);
        }
        Iterator<ImageReader> readers = ImageIO.getImageReadersByFormatName(format.readerName);
        if (!readers.hasNext()) {
            throw new IllegalStateException("no ImageIO reader for " + format.readerName);
        }
        return readers.next();
    }

    private static final javax.imageio.spi.ImageReaderSpi WEBP_READERS =
            new com.twelvemonkeys.imageio.plugins.webp.WebPImageReaderSpi();

    /**
     * libwebp through webp-imageio, set up at the first lossy WebP (a holder class: making a WebPReadParam loads the
     * native library, and a machine where it cannot load must still decode everything else).
     */
    private static final class Libwebp {
        /** webp-imageio's reader SPI, named by class for the same reasons as {@link #WEBP_READERS}. */
        static final javax.imageio.spi.ImageReaderSpi READERS = new com.luciad.imageio.webp.WebPImageReaderSpi();

        /**
         * The one read parameter every libwebp decode is given. webp-imageio makes a new one, with a native
         * {@code WebPDecoderOptions}, for each {@code read(0)}, and never frees it (its Cleaner is registered with
         * the object as its own action, so the object stays reachable; measured: 3 million of them exhaust a 32 MB
         * heap, 3 million plain ImageReadParams do not). Sharing one is safe across threads: the native decode
         * copies the options and writes nothing back.
         */
        static final com.luciad.imageio.webp.WebPReadParam PARAM = new com.luciad.imageio.webp.WebPReadParam();
    }

    /**
     * A libwebp reader. A library that did not load (webp-imageio copies it to java.io.tmpdir first, which must be
     * writable and allow execution) is a server fault, answered as a missing ImageIO reader is (500).
     */
    private static ImageReader libwebpReader() throws IOException {
        try {
            return Libwebp.READERS.createReaderInstance(null); // the first call initializes Libwebp: loads libwebp
        } catch (LinkageError e) {
            throw new IllegalStateException("no ImageIO reader for lossy WebP: libwebp (webp-imageio) did not load: "
                    + e, e);
        }
    }

    /**
     * A lossy WebP decoded by libwebp with its defaults (fancy upsampling, in-loop filtering, no dithering: what
     * PIL's decode uses). webp-imageio throws {@code new OutOfMemoryError()} (no message) for libwebp's status
     * {@code VP8_STATUS_OUT_OF_MEMORY}, and libwebp 1.6.0 gives that status for a malformed ALPH chunk as well
     * ({@code alpha_dec.c}: any failure of the alpha header, even a bad compression method, is reported so), which
     * a client can send at will; within the declared-size limit checked before, that is what it means here, and
     * it becomes a refusal (left as an Error it would be a 500, and it ends a JUnit run). The JVM's own
     * OutOfMemoryError carries a message ("Java heap space") and is thrown on.
     */
    private static BufferedImage readLibwebp(ImageReader reader) throws IOException {
        try {
            return reader.read(0, Libwebp.PARAM);
        } catch (OutOfMemoryError e) {
            if (e.getMessage() != null) {
                throw e;
            }
            throw new javax.imageio.IIOException("libwebp refused its data (status VP8_STATUS_OUT_OF_MEMORY, which "
                    + "libwebp 1.6.0 also gives for a malformed alpha chunk)");
        }
    }

    private static void checkDeclared(String field, int w, int h, long maxPixels) {
        if (w < 1 || h < 1) {
            throw new InvalidRequestException(field, field + " declares an empty size " + w + "x" + h);
        }
        if (w > MAX_SIDE || h > MAX_SIDE || (long) w * h > maxPixels) {
            throw new InvalidRequestException(field, field + " declares " + w + "x" + h + " pixels; at most "
                    + maxPixels + " pixels (sd.limits.max-pixels) and " + MAX_SIDE + " a side are accepted");
        }
    }

    /** 8-bit RGB of a decoded image: grey replicated, alpha dropped, other colour models through getRGB. */
    static InitImage fromImage(BufferedImage img) {
        int w = img.getWidth();
        int h = img.getHeight();
        byte[] rgb = new byte[w * h * 3];
        Raster raster = img.getRaster();
        java.awt.image.ColorModel cm = img.getColorModel();
        boolean grey = cm.getColorSpace().getType() == ColorSpace.TYPE_GRAY;
        boolean deepRgb = !grey && cm instanceof java.awt.image.ComponentColorModel && cm.getComponentSize(0) == 16;
        if (grey) {
            int bits = cm.getComponentSize(0);
            int[] row = new int[w];
            for (int y = 0; y < h; y++) {
                raster.getSamples(0, y, w, 1, 0, row);
                for (int x = 0; x < w; x++) {
                    // PIL: 1/2/4-bit grey is stretched to 0..255; 16-bit grey opens as mode "I" and convert("RGB")
                    // clips it at 255 (so most of a 16-bit grey image turns white, as it does in diffusers)
                    int v = bits <= 8 ? row[x] * 255 / ((1 << bits) - 1) : Math.min(row[x], 255);
                    int o = (y * w + x) * 3;
                    rgb[o] = rgb[o + 1] = rgb[o + 2] = (byte) v;
                }
            }
        } else if (deepRgb) {
            // PIL reads 16-bit RGB(A) PNGs as 8-bit RGB by keeping each sample's high byte (AWT would round)
            int[] row = new int[w];
            for (int c = 0; c < 3; c++) {
                for (int y = 0; y < h; y++) {
                    raster.getSamples(0, y, w, 1, c, row);
                    for (int x = 0; x < w; x++) {
                        rgb[(y * w + x) * 3 + c] = (byte) (row[x] >> 8);
                    }
                }
            }
        } else {
            int[] row = new int[w];
            for (int y = 0; y < h; y++) {
                img.getRGB(0, y, w, 1, row, 0, w);
                for (int x = 0; x < w; x++) {
                    int p = row[x];
                    int o = (y * w + x) * 3;
                    rgb[o] = (byte) (p >> 16);
                    rgb[o + 1] = (byte) (p >> 8);
                    rgb[o + 2] = (byte) p;
                }
            }
        }
        return new InitImage(w, h, rgb);
    }

    /**
     * This image turned upright for an EXIF orientation (1..8; 1 and unknown values leave it as it is), as
     * PIL's {@code ImageOps.exif_transpose}.
     */
    InitImage oriented(int orientation) {
        if (orientation < 2 || orientation > 8) {
            return this;
        }
        boolean swap = orientation >= 5;
        int ow = swap ? height : width;
        int oh = swap ? width : height;
        byte[] out = new byte[rgb.length];
        for (int y = 0; y < oh; y++) {
            for (int x = 0; x < ow; x++) {
                // source pixel (sx, sy) shown at (x, y) once the orientation is undone
                int sx;
                int sy;
                switch (orientation) {
                    case 2 -> { sx = width - 1 - x; sy = y; }              // mirrored horizontally
                    case 3 -> { sx = width - 1 - x; sy = height - 1 - y; } // rotated 180
                    case 4 -> { sx = x; sy = height - 1 - y; }             // mirrored vertically
                    case 5 -> { sx = y; sy = x; }                          // transposed
                    case 6 -> { sx = y; sy = height - 1 - x; }             // rotated 90 CW to view
                    case 7 -> { sx = width - 1 - y; sy = height - 1 - x; } // transversed
                    default -> { sx = width - 1 - y; sy = x; }             // 8: rotated 90 CCW to view
                }
                System.arraycopy(rgb, (sy * width + sx) * 3, out, (y * ow + x) * 3, 3);
            }
        }
        return new InitImage(ow, oh, out);
    }

    /** The orientation tag (0x0112) of a JPEG's EXIF block (APP1 "Exif\0\0"), or 1 when there is none. */
    static final class ExifOrientation {
        private ExifOrientation() {
        }

        static int of(byte[] b) {
            int i = 2;
            while (i + 4 <= b.length && (b[i] & 0xff) == 0xff) {
                int marker = b[i + 1] & 0xff;
                if (marker == 0xda || marker == 0xd9) {
                    break; // start of scan / end of image: no EXIF before the pixels
                }
                int len = ((b[i + 2] & 0xff) << 8) | (b[i + 3] & 0xff);
                if (len < 2 || i + 2 + len > b.length) {
                    break;
                }
                if (marker == 0xe1 && len >= 8 && b[i + 4] == 'E' && b[i + 5] == 'x' && b[i + 6] == 'i'
                        && b[i + 7] == 'f' && b[i + 8] == 0 && b[i + 9] == 0) {
                    return fromTiff(b, i + 10, i + 2 + len);
                }
                i += 2 + len;
            }
            return 1;
        }

        /** The orientation in a TIFF block (EXIF's layout) at {@code start..end} of {@code b}, or 1. */
        static int fromTiff(byte[] b, int start, int end) {
            if (start + 8 > end) {
                return 1;
            }
            boolean le = b[start] == 'I' && b[start + 1] == 'I';
            if (!le && !(b[start] == 'M' && b[start + 1] == 'M')) {
                return 1;
            }
            long ifd = start + u32(b, start + 4, le);
            if (ifd + 2 > end) {
                return 1;
            }
            int count = u16(b, (int) ifd, le);
            for (int k = 0; k < count; k++) {
                long e = ifd + 2 + 12L * k;
                if (e + 12 > end) {
                    return 1;
                }
                if (u16(b, (int) e, le) == 0x0112) {
                    int type = u16(b, (int) e + 2, le);
                    return type == 3 ? u16(b, (int) e + 8, le) : 1; // SHORT, value inline
                }
            }
            return 1;
        }

        private static int u16(byte[] b, int o, boolean le) {
            int a = b[o] & 0xff;
            int c = b[o + 1] & 0xff;
            return le ? a | (c << 8) : (a << 8) | c;
        }

        private static long u32(byte[] b, int o, boolean le) {
            long v = 0;
            for (int k = 0; k < 4; k++) {
                int x = b[o + (le ? 3 - k : k)] & 0xff;
                v = (v << 8) | x;
            }
            return v;
        }
    }
}
