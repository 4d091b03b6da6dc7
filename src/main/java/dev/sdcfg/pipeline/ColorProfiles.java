package dev.sdcfg.pipeline;

import java.awt.Transparency;
import java.awt.color.ColorSpace;
import java.awt.color.ICC_ColorSpace;
import java.awt.color.ICC_Profile;
import java.awt.image.BufferedImage;
import java.awt.image.ColorConvertOp;
import java.awt.image.ComponentColorModel;
import java.awt.image.DataBuffer;
import java.awt.image.DataBufferByte;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * The ICC colour profile embedded in an input image, and the conversion of its pixels to sRGB, as Pillow's
 * {@code ImageCms.profileToProfile(im, embedded, ImageCms.createProfile("sRGB"), outputMode="RGB")} converts them.
 *
 * <p>Where each format keeps its profile: PNG in an {@code iCCP} chunk before the image data (zlib-compressed), JPEG
 * in {@code APP2 "ICC_PROFILE"} segments (split over several when large, each numbered), WebP in the {@code ICCP}
 * chunk of an extended (VP8X) file. The profile is read and checked <em>before</em> the image is decoded; the
 * decoders never see it (the JPEG reader is given the file without its APP2 profile segments, which it would
 * otherwise apply itself towards the JDK's sRGB; {@link WebpContainer} drops ICCP; the PNG reader runs with
 * metadata ignored), so the stored values reach {@link #apply} unchanged.
 *
 * <p>The conversion is LittleCMS's, through the JDK's {@link ColorConvertOp} (the JDK's colour management is
 * LittleCMS 2), towards LittleCMS's own sRGB profile ({@code cmsCreate_sRGBProfile}, the one Pillow's
 * {@code createProfile("sRGB")} makes, with the IEC 61966-2-1 curve as a parametric curve), not the JDK's
 * {@code sRGB.pf}: towards the JDK's, sRGB-tagged images moved by up to 2 levels and the results differed from
 * Pillow's on 3× more samples. Rendering intent: perceptual, Pillow's default and what ColorConvertOp uses for
 * display and input profiles (for an output-class profile the JDK picks relative colorimetric); for matrix/TRC
 * profiles, most RGB profiles images carry, the two are the same.
 *
 * <p>A profile that is sRGB (to within {@link #SRGB_TOLERANCE} level on every probe colour: LittleCMS's, the JDK's,
 * the classic HP/IEC one, which differ in their encoding, not in the colours) leaves the stored values as they are,
 * bit for bit. A profile that cannot be used is refused (422 on the field), never ignored: a malformed or truncated
 * profile, one for another colour space than the image's (grey against RGB, CMYK, Lab), or one LittleCMS cannot
 * build a transform from. Browsers ignore such a profile and show the stored values, but the project refuses what
 * it cannot reproduce faithfully rather than start from a picture other than the one the client meant (as for lossy
 * WebP): the client learns why and can re-save the image. CMYK (and YCCK) JPEGs are refused here too, with their own
 * message. Alpha is never touched (only the colour channels are converted; {@link InitImage} keeps alpha out of the
 * pixels and reads it only for masks).
 */
final class ColorProfiles {

    /** Largest profile accepted (an RGB profile is a few hundred bytes to a few hundred KB). */
    static final int MAX_PROFILE_BYTES = 4 << 20;

    /** A profile converting every probe colour to within this many levels of itself is sRGB: nothing is changed. */
    static final int SRGB_TOLERANCE = 1;

    /** LittleCMS's sRGB ({@code cmsCreate_sRGBProfile}, as written by Pillow 12.3.0 / LittleCMS 2.19). */
    private static final ICC_ColorSpace SRGB = new ICC_ColorSpace(ICC_Profile.getInstance(resource("srgb.icc")));

    /** What to do with a decoded image's stored values: nothing ({@link #NONE}) or a conversion to sRGB. */
    static final class ToSrgb {
        static final ToSrgb NONE = new ToSrgb(null, null, null);

        private final ICC_ColorSpace source;
        private final ColorConvertOp op;
        private final String what;

        private ToSrgb(ICC_ColorSpace source, ColorConvertOp op, String what) {
            this.source = source;
            this.op = op;
            this.what = what;
        }

        /** True when the image's stored values are used as they are (no profile, or an sRGB one). */
        boolean isNone() {
            return op == null;
        }

        /**
         * {@code stored} (the decoder's values, grey replicated) converted to sRGB; {@code decoded} tells whether the
         * image is grey (a grey profile applies to grey images only, an RGB profile to colour ones).
         */
        InitImage apply(InitImage stored, BufferedImage decoded, String field) {
            if (op == null) {
                return stored;
            }
            boolean greyImage = decoded.getColorModel().getColorSpace().getType() == ColorSpace.TYPE_GRAY;
            boolean greyProfile = source.getType() == ColorSpace.TYPE_GRAY;
            if (greyImage != greyProfile) {
                throw unusable(field, "it is a " + (greyProfile ? "grey" : "colour") + " profile on a "
                        + (greyImage ? "greyscale" : "colour") + " image");
            }
            int w = stored.width();
            int h = stored.height();
            byte[] in = stored.rgb();
            if (greyProfile) {
                byte[] grey = new byte[w * h];
                for (int i = 0; i < grey.length; i++) {
                    grey[i] = in[i * 3];
                }
                in = grey;
            }
            try {
                return new InitImage(w, h, convert(op, source, in, w, h));
            } catch (RuntimeException e) {
                throw unusable(field, "LittleCMS could not convert with it: " + message(e));
            }
        }

        @Override
        public String toString() {
            return op == null ? "none" : what;
        }
    }

    private ColorProfiles() {
    }

    /**
     * The conversion that the profile embedded in {@code data} (PNG, JPEG or WebP; anything else: none) calls for,
     * read and tried out before any pixel is decoded.
     *
     * @throws InvalidRequestException on {@code field} for a profile that cannot be used, or a CMYK JPEG
     */
    static ToSrgb toSrgb(byte[] data, String field) {
        InitImage.Format format = data == null ? null : InitImage.Format.sniff(data);
        if (format == null) {
            return ToSrgb.NONE;
        }
        byte[] icc;
        try {
            icc = switch (format) {
                case PNG -> png(data);
                case JPEG -> jpeg(data, field);
                case WEBP -> webp(data);
            };
        } catch (Malformed e) {
            throw unusable(field, e.getMessage());
        }
        return icc == null ? ToSrgb.NONE : prepare(icc, field);
    }

    /** The profile, its colour space and a transform tried on probe colours; NONE when it is sRGB. */
    private static ToSrgb prepare(byte[] icc, String field) {
        ICC_Profile profile;
        try {
            profile = ICC_Profile.getInstance(icc);
        } catch (IllegalArgumentException e) {
            throw unusable(field, "it is not valid ICC data (" + message(e) + ")");
        }
        int space = profile.getColorSpaceType();
        if (space != ColorSpace.TYPE_RGB && space != ColorSpace.TYPE_GRAY) {
            // the header's colour space signature (bytes 16..19: 'CMYK', 'Lab ', ...)
            String sig = new String(icc, 16, 4, StandardCharsets.ISO_8859_1).replaceAll("[^\\x20-\\x7e]", "?")
                    .strip();
            throw unusable(field, "it is a profile for the '" + sig + "' colour space; only RGB and grey profiles are "
                    + "supported");
        }
        String what = (space == ColorSpace.TYPE_GRAY ? "grey" : "RGB") + " profile of " + icc.length + " bytes";
        try {
            ICC_ColorSpace source = new ICC_ColorSpace(profile);
            ColorConvertOp op = new ColorConvertOp(source, SRGB, null);
            byte[] probe = probe(space == ColorSpace.TYPE_GRAY);
            int n = space == ColorSpace.TYPE_GRAY ? probe.length : probe.length / 3;
            byte[] out = convert(op, source, probe, n, 1);
            return isNearlyIdentity(probe, out, space == ColorSpace.TYPE_GRAY) ? ToSrgb.NONE
                    : new ToSrgb(source, op, what);
        } catch (RuntimeException e) {
            // CMMException, ProfileDataException, IllegalArgumentException: LittleCMS refused the profile
            throw unusable(field, "LittleCMS cannot build a transform from it: " + message(e));
        }
    }

    /** {@code pixels} (w×h, 1 or 3 bytes each, in {@code source}) converted to 8-bit sRGB, RGB order. */
    private static byte[] convert(ColorConvertOp op, ICC_ColorSpace source, byte[] pixels, int w, int h) {
        BufferedImage in = image(source, pixels, w, h);
        BufferedImage out = image(SRGB, new byte[w * h * 3], w, h);
        op.filter(in, out);
        return ((DataBufferByte) out.getRaster().getDataBuffer()).getData();
    }

    /** A byte-interleaved image over {@code pixels} (no copy) in {@code space}: what LittleCMS reads directly. */
    private static BufferedImage image(ColorSpace space, byte[] pixels, int w, int h) {
        int bands = space.getNumComponents();
        ComponentColorModel cm = new ComponentColorModel(space, false, false, Transparency.OPAQUE,
                DataBuffer.TYPE_BYTE);
        int[] offsets = bands == 1 ? new int[] {0} : new int[] {0, 1, 2};
        WritableRaster raster = Raster.createInterleavedRaster(new DataBufferByte(pixels, pixels.length), w, h,
                w * bands, bands, offsets, null);
        return new BufferedImage(cm, raster, false, null);
    }

    /**
     * Probe colours: every level of each primary, secondary and grey ramp, a 16³ grid over 0..255 and a 15³ grid
     * between its points (grey: the 256 levels). A matrix/TRC transform is smooth between them, so a profile within
     * {@link #SRGB_TOLERANCE} of identity on these is within rounding of it everywhere.
     */
    private static byte[] probe(boolean grey) {
        if (grey) {
            byte[] p = new byte[256];
            for (int v = 0; v < 256; v++) {
                p[v] = (byte) v;
            }
            return p;
        }
        ByteArrayOutputStream p = new ByteArrayOutputStream(3 * (7 * 256 + 16 * 16 * 16 + 15 * 15 * 15));
        for (int mask = 1; mask < 8; mask++) {
            for (int v = 0; v < 256; v++) {
                p.write((mask & 1) != 0 ? v : 0);
                p.write((mask & 2) != 0 ? v : 0);
                p.write((mask & 4) != 0 ? v : 0);
            }
        }
        for (int[] grid : new int[][] {{0, 16}, {8, 15}}) {
            for (int r = 0; r < grid[1]; r++) {
                for (int g = 0; g < grid[1]; g++) {
                    for (int b = 0; b < grid[1]; b++) {
                        p.write(grid[0] + 17 * r);
                        p.write(grid[0] + 17 * g);
                        p.write(grid[0] + 17 * b);
                    }
                }
            }
        }
        return p.toByteArray();
    }

    private static boolean isNearlyIdentity(byte[] in, byte[] out, boolean grey) {
        for (int i = 0; i < out.length; i++) {
            int expected = in[grey ? i / 3 : i] & 0xff;
            if (Math.abs((out[i] & 0xff) - expected) > SRGB_TOLERANCE) {
                return false;
            }
        }
        return true;
    }

    // --- where each format keeps its profile

    /** A profile the container holds but that cannot be read out of it. */
    static final class Malformed extends Exception {
        Malformed(String message) {
            super(message, null, false, false);
        }
    }

    /** The inflated profile of a PNG's iCCP chunk (before IDAT), or null. */
    static byte[] png(byte[] b) throws Malformed {
        int pos = 8;
        byte[] found = null;
        while (pos + 8 <= b.length) {
            long len = u32be(b, pos);
            String type = new String(b, pos + 4, 4, StandardCharsets.ISO_8859_1);
            if (type.equals("IDAT") || type.equals("IEND") || pos + 12 + len > b.length) {
                break; // the profile must come before the image data; a truncated file is the decoder's to refuse
            }
            if (type.equals("iCCP")) {
                if (found != null) {
                    throw new Malformed("the PNG has more than one iCCP chunk");
                }
                found = iccp(b, pos + 8, (int) len);
            }
            pos += 12 + (int) len;
        }
        return found;
    }

    /** iCCP: a 1..79-byte name, NUL, compression method 0, the zlib-compressed profile. */
    private static byte[] iccp(byte[] b, int start, int len) throws Malformed {
        int nul = start;
        while (nul < start + len && b[nul] != 0) {
            nul++;
        }
        if (nul == start || nul - start > 79 || nul + 2 > start + len) {
            throw new Malformed("its iCCP chunk has no valid name and compression method");
        }
        if (b[nul + 1] != 0) {
            throw new Malformed("its iCCP chunk names an unknown compression method " + (b[nul + 1] & 0xff));
        }
        Inflater inflater = new Inflater();
        try {
            inflater.setInput(b, nul + 2, start + len - nul - 2);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            byte[] buf = new byte[8192];
            while (true) {
                int n = inflater.inflate(buf);
                out.write(buf, 0, n);
                if (out.size() > MAX_PROFILE_BYTES) {
                    throw new Malformed("its iCCP chunk inflates to more than " + MAX_PROFILE_BYTES + " bytes");
                }
                if (inflater.finished()) {
                    return out.toByteArray();
                }
                if (n == 0 && (inflater.needsInput() || inflater.needsDictionary())) {
                    throw new Malformed("its iCCP chunk's compressed profile is truncated");
                }
            }
        } catch (DataFormatException e) {
            throw new Malformed("its iCCP chunk's compressed profile is not valid zlib data (" + e.getMessage() + ")");
        } finally {
            inflater.end();
        }
    }

    /**
     * The profile of a JPEG's APP2 "ICC_PROFILE" segments (before the first scan), put together in their numbered
     * order, or null. A CMYK / YCCK frame (four components) is refused here, whatever its profile.
     */
    static byte[] jpeg(byte[] b, String field) throws Malformed {
        byte[][] parts = null;
        int total = 0;
        for (int i = 2; i + 4 <= b.length; ) {
            if ((b[i] & 0xff) != 0xff) {
                break;
            }
            int marker = b[i + 1] & 0xff;
            if (marker == 0xff) {
                i++; // fill byte
                continue;
            }
            if (marker == 0xda || marker == 0xd9) {
                break; // start of scan / end of image
            }
            int len = ((b[i + 2] & 0xff) << 8) | (b[i + 3] & 0xff);
            if (len < 2 || i + 2 + len > b.length) {
                break; // truncated: the decoder refuses the file
            }
            int p = i + 4;
            int end = i + 2 + len;
            boolean sof = marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc;
            if (sof && len >= 8 && (b[p + 5] & 0xff) == 4) {
                throw new InvalidRequestException(field, field + " is a CMYK JPEG (four colour components); only "
                        + "RGB and greyscale JPEGs are accepted: convert it to RGB first");
            }
            if (marker == 0xe2 && end - p >= 14 && new String(b, p, 12, StandardCharsets.ISO_8859_1)
                    .equals("ICC_PROFILE\0")) {
                int seq = b[p + 12] & 0xff;
                int count = b[p + 13] & 0xff;
                if (parts == null) {
                    parts = new byte[count][];
                }
                if (count != parts.length || seq < 1 || seq > count || parts[seq - 1] != null) {
                    throw new Malformed("its APP2 ICC_PROFILE segments are not numbered 1.." + parts.length
                            + " once each (segment " + seq + " of " + count + ")");
                }
                parts[seq - 1] = java.util.Arrays.copyOfRange(b, p + 14, end);
                total += end - p - 14;
                if (total > MAX_PROFILE_BYTES) {
                    throw new Malformed("its APP2 ICC_PROFILE segments hold more than " + MAX_PROFILE_BYTES
                            + " bytes");
                }
            }
            i = end;
        }
        if (parts == null) {
            return null;
        }
        ByteArrayOutputStream icc = new ByteArrayOutputStream(total);
        for (int k = 0; k < parts.length; k++) {
            if (parts[k] == null) {
                throw new Malformed("its profile is split over " + parts.length + " APP2 ICC_PROFILE segments but "
                        + "segment " + (k + 1) + " is missing");
            }
            icc.writeBytes(parts[k]);
        }
        return icc.toByteArray();
    }

    /**
     * The JPEG without its APP2 ICC_PROFILE segments (the same array when it has none): what the JDK's reader is
     * given, so that it decodes the stored values instead of converting them itself.
     */
    static byte[] jpegWithoutProfile(byte[] b) {
        ByteArrayOutputStream out = null;
        int copied = 0;
        for (int i = 2; i + 4 <= b.length; ) {
            if ((b[i] & 0xff) != 0xff) {
                break;
            }
            int marker = b[i + 1] & 0xff;
            if (marker == 0xff) {
                i++;
                continue;
            }
            if (marker == 0xda || marker == 0xd9) {
                break;
            }
            int len = ((b[i + 2] & 0xff) << 8) | (b[i + 3] & 0xff);
            if (len < 2 || i + 2 + len > b.length) {
                break;
            }
            if (marker == 0xe2 && len >= 16 && new String(b, i + 4, 12, StandardCharsets.ISO_8859_1)
                    .equals("ICC_PROFILE\0")) {
                if (out == null) {
                    out = new ByteArrayOutputStream(b.length);
                }
                out.write(b, copied, i - copied);
                copied = i + 2 + len;
            }
            i += 2 + len;
        }
        if (out == null) {
            return b;
        }
        out.write(b, copied, b.length - copied);
        return out.toByteArray();
    }

    /** The ICCP chunk of an extended (VP8X) WebP, before its image data, or null. */
    static byte[] webp(byte[] b) throws Malformed {
        if (b.length < 30 || !new String(b, 12, 4, StandardCharsets.ISO_8859_1).equals("VP8X")) {
            return null; // a simple file (or one WebpContainer refuses) carries no profile
        }
        long riffEnd = Math.min(b.length, 8 + u32le(b, 4));
        int pos = 12;
        while (pos + 8 <= riffEnd) {
            String type = new String(b, pos, 4, StandardCharsets.ISO_8859_1);
            long size = u32le(b, pos + 4);
            if (pos + 8 + size > riffEnd || type.equals("VP8 ") || type.equals("VP8L") || type.equals("ALPH")
                    || type.equals("ANIM")) {
                return null;
            }
            if (type.equals("ICCP")) {
                if (size > MAX_PROFILE_BYTES) {
                    throw new Malformed("its ICCP chunk holds more than " + MAX_PROFILE_BYTES + " bytes");
                }
                return java.util.Arrays.copyOfRange(b, pos + 8, pos + 8 + (int) size);
            }
            pos += 8 + (int) (size + (size & 1));
        }
        return null;
    }

    // --- helpers

    private static InvalidRequestException unusable(String field, String why) {
        return new InvalidRequestException(field, field + " has an embedded ICC colour profile that cannot be used: "
                + why + ". Send the image converted to sRGB, or without the profile");
    }

    private static String message(Exception e) {
        return e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    }

    private static long u32be(byte[] b, int o) {
        return ((long) (b[o] & 0xff) << 24) | (b[o + 1] & 0xff) << 16 | (b[o + 2] & 0xff) << 8 | (b[o + 3] & 0xff);
    }

    private static long u32le(byte[] b, int o) {
        return (b[o] & 0xff) | (b[o + 1] & 0xff) << 8 | (b[o + 2] & 0xff) << 16 | ((long) (b[o + 3] & 0xff) << 24);
    }

    private static byte[] resource(String name) {
        try (InputStream in = ColorProfiles.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("missing resource " + name + " beside " + ColorProfiles.class);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
