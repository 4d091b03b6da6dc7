package dev.sdcfg.pipeline;

import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
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
 * <p>{@link #decode} trusts nothing in the bytes: the format is told by the content (PNG and JPEG signatures; a
 * file name or declared type plays no part), the declared width and height are read from the header and checked
 * against the pixel limit <em>before</em> any pixel is decoded (so a small file declaring a huge canvas, a
 * decompression bomb, costs nothing), and any decoder failure becomes a 4xx naming the field. Alpha is dropped
 * as PIL's {@code convert("RGB")} drops it (the stored colour values are kept, not composited); grey images are
 * replicated into three channels as PIL does (not gamma-converted as AWT's {@code getRGB} would), 16-bit samples
 * reduced as PIL reduces them (RGB: the high byte; grey: clipped at 255); a JPEG's EXIF
 * orientation is applied (diffusers' {@code load_image} applies {@code ImageOps.exif_transpose}). Embedded colour
 * profiles are not applied: the stored values are used, as PIL's {@code convert("RGB")} uses them.
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
        PNG("png"), JPEG("jpeg");

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
            return null;
        }
    }

    /**
     * Decodes {@code data} (PNG or JPEG), refusing images over {@code maxPixels} pixels or {@link #MAX_SIDE} a side
     * before decoding them. Every refusal is an {@link InvalidRequestException} on {@code field}.
     */
    public static InitImage decode(byte[] data, String field, long maxPixels) {
        Format format = sniffOrRefuse(data, field);
        InitImage decoded = fromImage(read(data, format, field, maxPixels));
        if (format == Format.JPEG) {
            decoded = decoded.oriented(ExifOrientation.of(data));
        }
        return decoded;
    }

    /**
     * OpenAI's edit mask from an image's alpha channel: white (repaint) where a pixel is fully transparent, black
     * (keep) elsewhere; null when the image has no alpha channel. Same checks and refusals as {@link #decode}.
     */
    public static InitImage transparentAreas(byte[] data, String field, long maxPixels) {
        BufferedImage img = read(data, sniffOrRefuse(data, field), field, maxPixels);
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
        return new InitImage(w, h, rgb);
    }

    private static Format sniffOrRefuse(byte[] data, String field) {
        if (data == null || data.length == 0) {
            throw new InvalidRequestException(field, field + " is empty");
        }
        Format format = Format.sniff(data);
        if (format == null) {
            throw new InvalidRequestException(field, field + " is not a PNG or JPEG image (told by its content: "
                    + (isWebp(data) ? "WebP is not supported" : "unknown signature") + ")");
        }
        return format;
    }

    /** The decoded image, its declared size checked first; decoder failures name the field. */
    private static BufferedImage read(byte[] data, Format format, String field, long maxPixels) {
        try (ImageInputStream in = ImageIO.createImageInputStream(new ByteArrayInputStream(data))) {
            Iterator<ImageReader> readers = ImageIO.getImageReadersByFormatName(format.readerName);
            if (!readers.hasNext()) {
                throw new IllegalStateException("no ImageIO reader for " + format.readerName);
            }
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                int w = reader.getWidth(0);
                int h = reader.getHeight(0);
                checkDeclared(field, w, h, maxPixels);
                return reader.read(0);
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

    private static boolean isWebp(byte[] b) {
        return b.length >= 12 && b[0] == 'R' && b[1] == 'I' && b[2] == 'F' && b[3] == 'F' && b[8] == 'W'
                && b[9] == 'E' && b[10] == 'B' && b[11] == 'P';
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

        private static int fromTiff(byte[] b, int start, int end) {
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
