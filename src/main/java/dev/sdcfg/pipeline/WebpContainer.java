package dev.sdcfg.pipeline;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * What a WebP file's RIFF container says before a pixel is decoded: the declared size (the VP8X canvas and the
 * VP8 / VP8L bitstream's own header, which must agree as libwebp requires), whether it has alpha, its EXIF
 * orientation, whether it is lossy (VP8) or lossless (VP8L), and a cleaned copy holding only what a still image
 * needs.
 *
 * <p>Reading the headers here, not through the decoder, is what lets {@link InitImage} refuse a huge declared
 * canvas (a decompression bomb) or an animation before any decoder allocates anything. The cleaned copy is what
 * the decoder is given: VP8X (flags: alpha only), ALPH, VP8/VP8L, nothing else. ICCP is dropped so that the decoder
 * returns the stored values (TwelveMonkeys' reader would otherwise convert a non-sRGB profile itself, its own way):
 * {@link ColorProfiles} reads the profile from the original file and converts them, as for PNG and JPEG; EXIF is
 * read here and applied by {@link InitImage}; XMP and unknown chunks carry nothing the pipeline uses.
 */
record WebpContainer(int width, int height, boolean alpha, boolean lossy, int orientation, byte[] still) {

    private static final int FLAG_ANIMATION = 0x02;
    private static final int FLAG_ALPHA = 0x10;

    /** A refusal from the container, turned into an {@link InvalidRequestException} on the field by the caller. */
    static final class Refused extends RuntimeException {
        Refused(String message) {
            super(message, null, false, false);
        }
    }

    /** A chunk's type and the bounds of its payload in the file. */
    private record Chunk(String type, int start, int size) {
        int end() {
            return start + size;
        }
    }

    /**
     * Parses the container of {@code b} (which starts {@code RIFF....WEBP}); a file declaring dimensions over the
     * limit is not refused here (the caller checks {@link #width}/{@link #height} against its limits).
     *
     * @throws Refused for a truncated or malformed container, an animation, or a file without image data
     */
    static WebpContainer parse(byte[] b) {
        if (b.length < 20) {
            throw new Refused("is a truncated WebP (" + b.length + " bytes)");
        }
        long riffEnd = 8 + u32(b, 4);
        if (riffEnd > b.length) {
            throw new Refused("is a truncated WebP: its RIFF header declares " + riffEnd + " bytes, " + b.length
                    + " were sent");
        }
        Chunk vp8x = null;
        Chunk alph = null;
        Chunk image = null;
        Chunk exif = null;
        int pos = 12;
        boolean first = true;
        while (pos + 8 <= riffEnd) {
            String type = new String(b, pos, 4, StandardCharsets.ISO_8859_1);
            long size = u32(b, pos + 4);
            if (pos + 8 + size > riffEnd) {
                throw new Refused("is a truncated WebP: its " + type.strip() + " chunk runs past the end of the file");
            }
            Chunk c = new Chunk(type, pos + 8, (int) size);
            if (first) {
                if (!type.equals("VP8X") && !type.equals("VP8 ") && !type.equals("VP8L")) {
                    throw new Refused("is not a valid WebP: it starts with a '" + printable(type)
                            + "' chunk, not VP8, VP8L or VP8X");
                }
                first = false;
            }
            switch (type) {
                case "VP8X" -> vp8x = vp8x == null ? c : vp8x;
                case "ANIM", "ANMF" -> throw new Refused("is an animated WebP; only still images are accepted");
                case "ALPH" -> alph = alph == null && image == null ? c : alph;
                case "VP8 ", "VP8L" -> image = image == null ? c : image;
                case "EXIF" -> exif = exif == null ? c : exif;
                default -> {
                    // ICCP (read by ColorProfiles), XMP and unknown chunks: not used here (see the class comment)
                }
            }
            if (vp8x == null && image != null) {
                break; // a simple file: nothing after its one bitstream chunk is read
            }
            pos = (int) Math.min(riffEnd, c.end() + (size & 1)); // chunks are padded to an even size
        }
        if (image == null) {
            throw new Refused(first ? "is a truncated WebP: no chunk after its header"
                    : "is a WebP without image data (no VP8 or VP8L chunk)");
        }
        int[] size = image.type().equals("VP8L") ? vp8lSize(b, image) : vp8Size(b, image);
        boolean alpha = image.type().equals("VP8L") ? vp8lAlpha(b, image) : alph != null;
        int width = size[0];
        int height = size[1];
        if (vp8x != null) {
            if (vp8x.size() < 10) {
                throw new Refused("is not a valid WebP: its VP8X chunk is " + vp8x.size() + " bytes, not 10");
            }
            int flags = b[vp8x.start()] & 0xff;
            if ((flags & FLAG_ANIMATION) != 0) {
                throw new Refused("is an animated WebP; only still images are accepted");
            }
            int canvasW = 1 + u24(b, vp8x.start() + 4);
            int canvasH = 1 + u24(b, vp8x.start() + 7);
            if (canvasW != width || canvasH != height) {
                // libwebp refuses a still image whose bitstream is not the canvas size; so do we, before decoding
                throw new Refused("is not a valid WebP: its canvas is " + canvasW + "x" + canvasH
                        + " but its image data is " + width + "x" + height);
            }
            alpha = alpha || (flags & FLAG_ALPHA) != 0;
        }
        int orientation = exif == null ? 1 : exifOrientation(b, exif);
        return new WebpContainer(width, height, alpha, image.type().equals("VP8 "), orientation, still(b, vp8x != null ? alph : null, image,
                vp8x != null && alpha, width, height));
    }

    /** VP8 (lossy) key frame header: 3-byte frame tag, start code 9d 01 2a, 14-bit width and height. */
    private static int[] vp8Size(byte[] b, Chunk c) {
        int o = c.start();
        if (c.size() < 10) {
            throw new Refused("is a truncated WebP: its VP8 header is " + c.size() + " bytes");
        }
        if ((b[o] & 1) != 0) {
            throw new Refused("is not a valid WebP: its VP8 frame is not a key frame");
        }
        if ((b[o + 3] & 0xff) != 0x9d || (b[o + 4] & 0xff) != 0x01 || (b[o + 5] & 0xff) != 0x2a) {
            throw new Refused("is not a valid WebP: its VP8 frame has no start code");
        }
        // the top two bits of each are an upscaling hint that decoders (libwebp included) ignore
        return new int[] {u16(b, o + 6) & 0x3fff, u16(b, o + 8) & 0x3fff};
    }

    /** VP8L (lossless) header: signature 0x2f, then 14 bits width-1, 14 bits height-1, alpha bit, 3-bit version 0. */
    private static int[] vp8lSize(byte[] b, Chunk c) {
        int o = c.start();
        if (c.size() < 5) {
            throw new Refused("is a truncated WebP: its VP8L header is " + c.size() + " bytes");
        }
        if ((b[o] & 0xff) != 0x2f) {
            throw new Refused("is not a valid WebP: its VP8L signature is wrong");
        }
        long bits = u32(b, o + 1);
        if ((bits >>> 29) != 0) {
            throw new Refused("is not a valid WebP: unknown VP8L version " + (bits >>> 29));
        }
        return new int[] {(int) (bits & 0x3fff) + 1, (int) ((bits >>> 14) & 0x3fff) + 1};
    }

    private static boolean vp8lAlpha(byte[] b, Chunk c) {
        return ((u32(b, c.start() + 1) >>> 28) & 1) != 0;
    }

    /** The EXIF chunk's orientation: raw TIFF as the WebP spec says, or with JPEG's "Exif\0\0" prefix as some writers put it. */
    private static int exifOrientation(byte[] b, Chunk c) {
        int start = c.start();
        if (c.size() >= 6 && b[start] == 'E' && b[start + 1] == 'x' && b[start + 2] == 'i' && b[start + 3] == 'f'
                && b[start + 4] == 0 && b[start + 5] == 0) {
            start += 6;
        }
        return InitImage.ExifOrientation.fromTiff(b, start, c.end());
    }

    /** RIFF/WEBP with only [VP8X (alpha flag only), ALPH,] VP8 or VP8L: what the decoder is given. */
    private static byte[] still(byte[] b, Chunk alph, Chunk image, boolean extendedAlpha, int w, int h) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes("WEBP".getBytes(StandardCharsets.ISO_8859_1));
        if (alph != null || extendedAlpha) {
            byte[] x = new byte[10];
            x[0] = (byte) FLAG_ALPHA;
            put24(x, 4, w - 1);
            put24(x, 7, h - 1);
            chunk(body, "VP8X", x, 0, 10);
            if (alph != null) {
                chunk(body, "ALPH", b, alph.start(), alph.size());
            }
        }
        chunk(body, image.type(), b, image.start(), image.size());
        byte[] payload = body.toByteArray();
        ByteArrayOutputStream out = new ByteArrayOutputStream(payload.length + 8);
        out.writeBytes("RIFF".getBytes(StandardCharsets.ISO_8859_1));
        write32(out, payload.length);
        out.writeBytes(payload);
        return out.toByteArray();
    }

    private static void chunk(ByteArrayOutputStream out, String type, byte[] b, int start, int size) {
        out.writeBytes(type.getBytes(StandardCharsets.ISO_8859_1));
        write32(out, size);
        out.write(b, start, size);
        if ((size & 1) != 0) {
            out.write(0);
        }
    }

    private static void write32(ByteArrayOutputStream out, int v) {
        out.write(v);
        out.write(v >>> 8);
        out.write(v >>> 16);
        out.write(v >>> 24);
    }

    private static void put24(byte[] x, int o, int v) {
        x[o] = (byte) v;
        x[o + 1] = (byte) (v >>> 8);
        x[o + 2] = (byte) (v >>> 16);
    }

    private static int u16(byte[] b, int o) {
        return (b[o] & 0xff) | (b[o + 1] & 0xff) << 8;
    }

    private static int u24(byte[] b, int o) {
        return u16(b, o) | (b[o + 2] & 0xff) << 16;
    }

    private static long u32(byte[] b, int o) {
        return (u24(b, o) | (long) (b[o + 3] & 0xff) << 24);
    }

    private static String printable(String type) {
        StringBuilder s = new StringBuilder();
        for (char ch : type.toCharArray()) {
            s.append(ch >= 0x20 && ch < 0x7f ? ch : '?');
        }
        return s.toString();
    }
}
