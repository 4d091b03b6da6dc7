package dev.sdcfg.api;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.zip.CRC32;

/** Input images for the image-to-image tests: real encodings made with ImageIO, and hostile hand-made ones. */
final class TestImages {

    private TestImages() {
    }

    /** A {@code w×h} image of {@code type} (BufferedImage.TYPE_*) with a colour pattern, encoded as {@code format}. */
    static byte[] encode(int w, int h, int type, String format) {
        BufferedImage img = new BufferedImage(w, h, type);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int a = 0x80 + (x * 2);
                img.setRGB(x, y, (a & 0xff) << 24 | (x * 4 & 0xff) << 16 | (y * 4 & 0xff) << 8 | ((x + y) * 2 & 0xff));
            }
        }
        return encodeImage(img, format);
    }

    static byte[] encodeImage(BufferedImage img, String format) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            if (!ImageIO.write(img, format, out)) {
                throw new IllegalStateException("no ImageIO writer for " + format);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    static byte[] png(int w, int h) {
        return encode(w, h, BufferedImage.TYPE_INT_RGB, "png");
    }

    static String b64(byte[] b) {
        return Base64.getEncoder().encodeToString(b);
    }

    static String dataUrl(byte[] png) {
        return "data:image/png;base64," + b64(png);
    }

    /**
     * A well-formed PNG signature and IHDR chunk declaring {@code w×h} 8-bit RGB, then IEND with no pixel data: what
     * a decompression bomb shows the decoder before its (here absent) huge IDAT stream.
     */
    static byte[] pngHeaderOnly(int w, int h) {
        ByteBuffer ihdr = ByteBuffer.allocate(13).putInt(w).putInt(h).put((byte) 8).put((byte) 2).put((byte) 0)
                .put((byte) 0).put((byte) 0);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.writeBytes(new byte[] {(byte) 0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a});
        chunk(out, "IHDR", ihdr.array());
        chunk(out, "IEND", new byte[0]);
        return out.toByteArray();
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] data) {
        byte[] t = type.getBytes(StandardCharsets.US_ASCII);
        out.writeBytes(ByteBuffer.allocate(4).putInt(data.length).array());
        out.writeBytes(t);
        out.writeBytes(data);
        CRC32 crc = new CRC32();
        crc.update(t);
        crc.update(data);
        out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
    }

    /** A file of src/test/resources/webp/ (written by tools/img2img-goldens/gen_webp.py). */
    static byte[] webp(String name) {
        try (java.io.InputStream in = TestImages.class.getResourceAsStream("/webp/" + name)) {
            if (in == null) {
                throw new IllegalStateException("no test resource webp/" + name);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * A RIFF/WEBP file holding only a VP8L header declaring {@code w×h} (1..16384 each) and no pixel data: WebP's
     * decompression bomb.
     */
    static byte[] webpHeaderOnly(int w, int h) {
        int bits = (w - 1) | (h - 1) << 14;
        ByteBuffer b = ByteBuffer.allocate(12 + 8 + 6).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.put("RIFF".getBytes(StandardCharsets.US_ASCII)).putInt(4 + 8 + 6).put("WEBP".getBytes(StandardCharsets.US_ASCII));
        b.put("VP8L".getBytes(StandardCharsets.US_ASCII)).putInt(5).put((byte) 0x2f).putInt(bits).put((byte) 0);
        return b.array();
    }

    /** A file of src/test/resources/icc/ (written by tools/icc-goldens/gen_icc.py). */
    static byte[] icc(String name) {
        try (java.io.InputStream in = TestImages.class.getResourceAsStream("/icc/" + name)) {
            if (in == null) {
                throw new IllegalStateException("no test resource icc/" + name);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@code png} with an iCCP chunk holding {@code profile} (zlib-compressed) right after IHDR. */
    static byte[] pngWithIcc(byte[] png, byte[] profile) {
        java.util.zip.Deflater d = new java.util.zip.Deflater();
        d.setInput(profile);
        d.finish();
        ByteArrayOutputStream iccp = new ByteArrayOutputStream();
        iccp.writeBytes("ICC profile\0\0".getBytes(StandardCharsets.ISO_8859_1)); // name, NUL, method 0 (zlib)
        byte[] buf = new byte[8192];
        while (!d.finished()) {
            iccp.write(buf, 0, d.deflate(buf));
        }
        d.end();
        int afterIhdr = 8 + 8 + 13 + 4;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(png, 0, afterIhdr);
        chunk(out, "iCCP", iccp.toByteArray());
        out.write(png, afterIhdr, png.length - afterIhdr);
        return out.toByteArray();
    }

    /**
     * {@code jpeg} with {@code profile} split over {@code parts} APP2 ICC_PROFILE segments right after SOI, segment
     * number {@code missing} (1-based; 0: none) left out.
     */
    static byte[] jpegWithIccSegments(byte[] jpeg, byte[] profile, int parts, int missing) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(jpeg, 0, 2);
        int step = (profile.length + parts - 1) / parts;
        for (int k = 0; k < parts; k++) {
            if (k + 1 == missing) {
                continue;
            }
            int from = k * step;
            int len = Math.min(step, profile.length - from);
            out.write(0xff);
            out.write(0xe2);
            out.writeBytes(ByteBuffer.allocate(2).putShort((short) (2 + 14 + len)).array());
            out.writeBytes("ICC_PROFILE\0".getBytes(StandardCharsets.ISO_8859_1));
            out.write(k + 1);
            out.write(parts);
            out.write(profile, from, len);
        }
        out.write(jpeg, 2, jpeg.length - 2);
        return out.toByteArray();
    }

    /** The first {@code n} bytes of {@code b}. */
    static byte[] truncated(byte[] b, int n) {
        return java.util.Arrays.copyOf(b, n);
    }
}
