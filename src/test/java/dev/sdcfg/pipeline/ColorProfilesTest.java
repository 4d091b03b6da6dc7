package dev.sdcfg.pipeline;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import javax.imageio.ImageIO;
import java.awt.color.ColorSpace;
import java.awt.color.ICC_Profile;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Embedded ICC profiles ({@link ColorProfiles} through {@link InitImage#decode}) against Pillow/LittleCMS:
 * src/test/resources/icc/, written by tools/icc-goldens/gen_icc.py, each {@code <file>} beside
 * {@code <file>.expected.png}, Pillow's {@code ImageCms.profileToProfile(..., createProfile("sRGB"),
 * outputMode="RGB")} of Pillow's decode (perceptual intent); the profiles themselves in icc/profiles/.
 */
class ColorProfilesTest {

    /**
     * Largest difference from Pillow allowed, in levels of 255: LittleCMS 8-bit rounding. Measured (JDK 17.0.15 with
     * Debian's LittleCMS 2.14 against Pillow 12.3.0 with LittleCMS 2.19): 1 on p3.png, adobe_alpha.png,
     * adobe_split.jpg, p3.webp, gray.png and gray.jpg, 0 on linear.png and the sRGB ones. The grey files' expected
     * PNG is LittleCMS's unoptimised transform: Pillow's default one is off the exact sRGB curve by up to 9 levels in
     * the darkest greys (tools/icc-goldens/README.md).
     */
    static final int TOLERANCE = 1;

    static byte[] resource(String name) {
        try (InputStream in = ColorProfilesTest.class.getResourceAsStream("/icc/" + name)) {
            assertNotNull(in, name);
            return in.readAllBytes();
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    static byte[] profile(String name) {
        return resource("profiles/" + name + ".icc");
    }

    /** The expected PNG's pixels as they are stored (it has no profile), RGB and, when it has one, alpha. */
    private static BufferedImage expected(String file) throws IOException {
        return ImageIO.read(new ByteArrayInputStream(resource(file + ".expected.png")));
    }

    private static InitImage decode(byte[] data) {
        return InitImage.decode(data, "init_image", 1 << 20);
    }

    private static int maxDiff(byte[] a, byte[] b) {
        assertEquals(a.length, b.length);
        int max = 0;
        for (int i = 0; i < a.length; i++) {
            max = Math.max(max, Math.abs((a[i] & 0xff) - (b[i] & 0xff)));
        }
        return max;
    }

    @ParameterizedTest
    @ValueSource(strings = {"p3.png", "linear.png", "adobe_alpha.png", "gray.png", "adobe_split.jpg", "gray.jpg",
            "p3.webp"})
    void convertsToSrgbAsPillow(String file) throws IOException {
        InitImage want = InitImage.fromImage(expected(file));
        InitImage got = decode(resource(file));
        assertEquals(want.width(), got.width(), file);
        assertEquals(want.height(), got.height(), file);
        int max = maxDiff(want.rgb(), got.rgb());
        long differ = 0;
        for (int i = 0; i < got.rgb().length; i++) {
            differ += got.rgb()[i] != want.rgb()[i] ? 1 : 0;
        }
        System.out.printf("%s: max |service - Pillow| %d levels, %d of %d samples differ%n", file, max, differ,
                got.rgb().length);
        assertTrue(max <= TOLERANCE, file + ": max difference from Pillow " + max + " > " + TOLERANCE);
    }

    @Test
    void theTargetIsLittleCmsSrgbAsPillowMakesIt() throws IOException {
        try (InputStream in = ColorProfiles.class.getResourceAsStream("srgb.icc")) {
            assertNotNull(in);
            assertArrayEquals(profile("srgb_lcms"), in.readAllBytes(), "src/main/resources/.../srgb.icc");
        }
    }

    @Test
    void theConversionMovesTheStoredValues() {
        // the RGB PNGs hold the same stored pattern: without a conversion they would decode alike
        byte[] stored = decode(resource("srgb_lcms.png")).rgb();
        assertTrue(maxDiff(stored, decode(resource("p3.png")).rgb()) > 100, "Display P3 is converted");
        assertTrue(maxDiff(stored, decode(resource("linear.png")).rgb()) > 50, "linear RGB is converted");
        assertTrue(maxDiff(stored, decode(resource("p3.webp")).rgb()) > 100, "a WebP's ICCP is converted");
    }

    @ParameterizedTest
    @ValueSource(strings = {"srgb_lcms.png", "srgb_table.png"})
    void anSrgbProfileLeavesTheStoredValuesBitForBit(String file) throws IOException {
        assertArrayEquals(InitImage.fromImage(expected(file)).rgb(), decode(resource(file)).rgb(), file);
        assertTrue(ColorProfiles.toSrgb(resource(file), "init_image").isNone(), file);
    }

    @Test
    void theJdksOwnSrgbProfileIsSrgbToo() throws IOException {
        // the JDK's sRGB.pf moves some colours by a level when converted to LittleCMS's sRGB: still sRGB
        byte[] plain = resource("srgb_lcms.png.expected.png");
        byte[] tagged = pngWithIcc(plain, ICC_Profile.getInstance(ColorSpace.CS_sRGB).getData());
        assertTrue(ColorProfiles.toSrgb(tagged, "init_image").isNone());
        assertArrayEquals(decode(plain).rgb(), decode(tagged).rgb());
        // the JDK's linear RGB is not
        byte[] linear = pngWithIcc(plain, ICC_Profile.getInstance(ColorSpace.CS_LINEAR_RGB).getData());
        assertFalse(ColorProfiles.toSrgb(linear, "init_image").isNone());
        assertTrue(maxDiff(decode(plain).rgb(), decode(linear).rgb()) > 50);
    }

    @Test
    void alphaIsLeftAsItIs() throws IOException {
        BufferedImage want = expected("adobe_alpha.png");
        InitImage mask = InitImage.transparentAreas(resource("adobe_alpha.png"), "mask", 1 << 20);
        assertNotNull(mask);
        for (int y = 0; y < want.getHeight(); y++) {
            for (int x = 0; x < want.getWidth(); x++) {
                int alpha = want.getRaster().getSample(x, y, 3);
                assertEquals(alpha == 0 ? 255 : 0, mask.rgb()[(y * want.getWidth() + x) * 3] & 0xff, x + "," + y);
            }
        }
    }

    @Test
    void aCmykJpegIsRefusedClearly() {
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> decode(resource("cmyk.jpg")));
        assertEquals("init_image", e.field());
        assertTrue(e.getMessage().contains("CMYK JPEG"), e.getMessage());
    }

    // --- profiles that cannot be used: a 422 naming the field and the reason, never anything else

    private static void refused(byte[] data, String reason) {
        InvalidRequestException e = assertThrows(InvalidRequestException.class,
                () -> InitImage.decode(data, "mask", 1 << 20));
        assertEquals("mask", e.field());
        assertTrue(e.getMessage().contains("ICC colour profile that cannot be used"), e.getMessage());
        assertTrue(e.getMessage().contains(reason), e.getMessage());
    }

    private static byte[] rgbPng() {
        return resource("srgb_lcms.png.expected.png"); // 32x24 RGB, no profile
    }

    @Test
    void malformedPngProfilesAreRefused() throws IOException {
        byte[] p3 = profile("display_p3");
        refused(pngWithIcc(rgbPng(), Arrays.copyOf(p3, 200)), "not valid ICC data");
        refused(pngWithIcc(rgbPng(), new byte[0]), "not valid ICC data");
        byte[] garbage = new byte[600];
        new java.util.Random(7).nextBytes(garbage);
        refused(pngWithIcc(rgbPng(), garbage), "not valid ICC data");
        byte[] junkZlib = new byte[40];
        Arrays.fill(junkZlib, (byte) 0x5a);
        refused(pngWithIccp(rgbPng(), iccpPayload("ICC profile", junkZlib)), "not valid zlib data");
        byte[] deflated = deflate(p3);
        refused(pngWithIccp(rgbPng(), iccpPayload("ICC profile", Arrays.copyOf(deflated, deflated.length / 2))),
                "truncated");
        refused(pngWithIccp(rgbPng(), "no terminator".getBytes(StandardCharsets.ISO_8859_1)), "no valid name");
        // a zlib bomb: 5 MiB of zeros in a few KB
        refused(pngWithIccp(rgbPng(), iccpPayload("bomb", deflate(new byte[5 << 20]))), "inflates to more than");
        byte[] twice = pngWithIcc(pngWithIcc(rgbPng(), p3), p3, false);
        refused(twice, "more than one iCCP");
    }

    @Test
    void profilesLittleCmsCannotUseAreRefused() {
        byte[] p3 = profile("display_p3");
        // a tag type LittleCMS does not know where the red colorant should be: the header and tag table are fine
        byte[] badTag = p3.clone();
        int rXYZ = tagOffset(badTag, "rXYZ");
        System.arraycopy("junk".getBytes(StandardCharsets.ISO_8859_1), 0, badTag, rXYZ, 4);
        refused(pngWithIcc(rgbPng(), badTag), "cannot build a transform");
        // a tag pointing past the end of the profile
        byte[] outside = p3.clone();
        ByteBuffer.wrap(outside).putInt(128 + 4 + 4, 1 << 20);
        refused(pngWithIcc(rgbPng(), outside), "not valid ICC data");
    }

    @Test
    void profilesForAnotherColourSpaceAreRefused() {
        refused(pngWithIcc(rgbPng(), profile("gray_linear")), "grey profile on a colour image");
        BufferedImage grey = new BufferedImage(8, 8, BufferedImage.TYPE_BYTE_GRAY);
        refused(pngWithIcc(encode(grey), profile("display_p3")), "colour profile on a greyscale image");
        byte[] cmyk = profile("display_p3").clone();
        System.arraycopy("CMYK".getBytes(StandardCharsets.ISO_8859_1), 0, cmyk, 16, 4);
        refused(pngWithIcc(rgbPng(), cmyk), "'CMYK' colour space");
        refused(pngWithIcc(rgbPng(), ICC_Profile.getInstance(ColorSpace.CS_CIEXYZ).getData()), "'XYZ' colour space");
    }

    @Test
    void malformedJpegProfilesAreRefused() {
        byte[] jpeg = resource("adobe_split.jpg");
        refused(withoutApp2Segment(jpeg, 2), "segment 2 is missing");
        refused(withApp2SegmentNumbered(jpeg, 3, 2), "numbered 1..3 once each");
        refused(withApp2SegmentNumbered(jpeg, 3, 9), "numbered 1..3 once each");
    }

    @Test
    void malformedWebpProfilesAreRefused() {
        byte[] webp = resource("p3.webp");
        byte[] p3 = profile("display_p3");
        int at = indexOf(webp, p3);
        assertTrue(at > 0);
        byte[] broken = webp.clone();
        Arrays.fill(broken, at + 128, at + 200, (byte) 0xee); // the tag count and table overwritten
        refused(broken, "not valid ICC data");
    }

    /**
     * Every single-byte corruption of a real profile is either used or refused with a 422: no other exception, no
     * crash (the profile is untrusted input that reaches LittleCMS's parser).
     */
    @Test
    void everyCorruptedByteIsUsedOrRefused() {
        byte[] p3 = profile("display_p3");
        int used = 0;
        int refusedCount = 0;
        for (int i = 0; i < p3.length; i++) {
            for (int flip : new int[] {0x01, 0x80}) {
                byte[] bad = p3.clone();
                bad[i] ^= (byte) flip;
                try {
                    decode(pngWithIcc(rgbPng(), bad));
                    used++;
                } catch (InvalidRequestException e) {
                    assertTrue(e.getMessage().contains("ICC colour profile"), e.getMessage());
                    refusedCount++;
                } catch (RuntimeException e) {
                    fail("byte " + i + " ^ " + flip + ": " + e, e);
                }
            }
        }
        System.out.printf("display_p3.icc with one byte corrupted (%d cases): %d used, %d refused%n", 2 * p3.length,
                used, refusedCount);
    }

    @Test
    void jpegWithoutProfileDropsOnlyTheProfileSegments() {
        byte[] jpeg = resource("adobe_split.jpg");
        byte[] bare = ColorProfiles.jpegWithoutProfile(jpeg);
        assertEquals(-1, indexOf(bare, "ICC_PROFILE".getBytes(StandardCharsets.ISO_8859_1)));
        int icc = profile("adobe_like").length;
        assertEquals(jpeg.length - icc - 3 * (4 + 14), bare.length, "three APP2 segments less");
        byte[] plain = rgbPngAsJpegLikeBytes();
        assertTrue(plain == ColorProfiles.jpegWithoutProfile(plain), "no profile: the same array");
    }

    // --- building test files

    private static byte[] rgbPngAsJpegLikeBytes() {
        return encodeAs(new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB), "jpeg");
    }

    private static byte[] encode(BufferedImage img) {
        return encodeAs(img, "png");
    }

    private static byte[] encodeAs(BufferedImage img, String format) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try {
            assertTrue(ImageIO.write(img, format, out));
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return out.toByteArray();
    }

    static byte[] deflate(byte[] data) {
        Deflater d = new Deflater();
        d.setInput(data);
        d.finish();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[8192];
        while (!d.finished()) {
            out.write(buf, 0, d.deflate(buf));
        }
        d.end();
        return out.toByteArray();
    }

    static byte[] iccpPayload(String name, byte[] compressed) {
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        p.writeBytes(name.getBytes(StandardCharsets.ISO_8859_1));
        p.write(0);
        p.write(0); // compression method: zlib
        p.writeBytes(compressed);
        return p.toByteArray();
    }

    /** {@code png} (a file without iCCP) with an iCCP chunk holding {@code icc}, right after IHDR. */
    static byte[] pngWithIcc(byte[] png, byte[] icc) {
        return pngWithIcc(png, icc, true);
    }

    private static byte[] pngWithIcc(byte[] png, byte[] icc, boolean check) {
        if (check) {
            assertEquals(-1, indexOf(png, "iCCP".getBytes(StandardCharsets.ISO_8859_1)), "already has a profile");
        }
        return pngWithIccp(png, iccpPayload("ICC profile", deflate(icc)));
    }

    static byte[] pngWithIccp(byte[] png, byte[] payload) {
        int afterIhdr = 8 + 8 + 13 + 4;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(png, 0, afterIhdr);
        byte[] type = "iCCP".getBytes(StandardCharsets.ISO_8859_1);
        out.writeBytes(ByteBuffer.allocate(4).putInt(payload.length).array());
        out.writeBytes(type);
        out.writeBytes(payload);
        CRC32 crc = new CRC32();
        crc.update(type);
        crc.update(payload);
        out.writeBytes(ByteBuffer.allocate(4).putInt((int) crc.getValue()).array());
        out.write(png, afterIhdr, png.length - afterIhdr);
        return out.toByteArray();
    }

    /** Offset in {@code icc} of the data of the tag {@code sig}. */
    private static int tagOffset(byte[] icc, String sig) {
        ByteBuffer b = ByteBuffer.wrap(icc);
        int count = b.getInt(128);
        for (int k = 0; k < count; k++) {
            int e = 132 + 12 * k;
            if (new String(icc, e, 4, StandardCharsets.ISO_8859_1).equals(sig)) {
                return b.getInt(e + 4);
            }
        }
        throw new AssertionError("no tag " + sig);
    }

    /** Start of each APP2 ICC_PROFILE segment (at its 0xFF) in a JPEG. */
    private static int[] app2Segments(byte[] jpeg) {
        int[] found = new int[0];
        int i = 2;
        while ((jpeg[i + 1] & 0xff) != 0xda) {
            int len = ((jpeg[i + 2] & 0xff) << 8) | (jpeg[i + 3] & 0xff);
            if ((jpeg[i + 1] & 0xff) == 0xe2) {
                found = Arrays.copyOf(found, found.length + 1);
                found[found.length - 1] = i;
            }
            i += 2 + len;
        }
        return found;
    }

    private static byte[] withoutApp2Segment(byte[] jpeg, int seq) {
        int at = app2Segments(jpeg)[seq - 1];
        int len = 2 + (((jpeg[at + 2] & 0xff) << 8) | (jpeg[at + 3] & 0xff));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(jpeg, 0, at);
        out.write(jpeg, at + len, jpeg.length - at - len);
        return out.toByteArray();
    }

    private static byte[] withApp2SegmentNumbered(byte[] jpeg, int which, int seq) {
        byte[] b = jpeg.clone();
        b[app2Segments(jpeg)[which - 1] + 4 + 12] = (byte) seq;
        return b;
    }

    static int indexOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int k = 0; k < needle.length; k++) {
                if (hay[i + k] != needle[k]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
