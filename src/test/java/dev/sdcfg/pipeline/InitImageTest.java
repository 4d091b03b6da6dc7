package dev.sdcfg.pipeline;

import org.junit.jupiter.api.Test;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link InitImage#decode}: what PIL's convert("RGB") and exif_transpose would give, and the refusals. */
class InitImageTest {

    private static byte[] write(BufferedImage img, String format) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertTrue(ImageIO.write(img, format, out));
        return out.toByteArray();
    }

    @Test
    void alphaIsDroppedNotComposited() throws IOException {
        BufferedImage img = new BufferedImage(2, 1, BufferedImage.TYPE_INT_ARGB);
        img.setRGB(0, 0, 0x00_10_20_30); // fully transparent: its colour is kept (PIL convert("RGB"))
        img.setRGB(1, 0, 0x80_F0_E0_D0);
        InitImage d = InitImage.decode(write(img, "png"), "init_image", 100);
        assertArrayEquals(new byte[] {0x10, 0x20, 0x30, (byte) 0xF0, (byte) 0xE0, (byte) 0xD0}, d.rgb());
    }

    @Test
    void greyIsReplicatedNotGammaConverted() throws IOException {
        BufferedImage img = new BufferedImage(3, 1, BufferedImage.TYPE_BYTE_GRAY);
        img.getRaster().setSamples(0, 0, 3, 1, 0, new int[] {0, 100, 255});
        InitImage d = InitImage.decode(write(img, "png"), "init_image", 100);
        assertArrayEquals(new byte[] {0, 0, 0, 100, 100, 100, (byte) 255, (byte) 255, (byte) 255}, d.rgb());
    }

    @Test
    void sixteenBitSamplesAreReducedAsPil() throws IOException {
        // PIL 9.4: a 16-bit grey PNG [0, 200, 256, 1000, 65535] converts to RGB grey [0, 200, 255, 255, 255]
        BufferedImage grey = new BufferedImage(5, 1, BufferedImage.TYPE_USHORT_GRAY);
        grey.getRaster().setSamples(0, 0, 5, 1, 0, new int[] {0, 200, 256, 1000, 65535});
        byte[] g = InitImage.decode(write(grey, "png"), "init_image", 100).rgb();
        int[] expectedGrey = {0, 200, 255, 255, 255};
        for (int i = 0; i < 5; i++) {
            assertEquals(expectedGrey[i], g[3 * i] & 0xff, "grey " + i);
        }
        // 16-bit RGB (200, 300, 65535), (256, 511, 1000), (32768, 32767, 255) → (0, 1, 255), (1, 1, 3), (128, 127, 0)
        java.awt.image.ComponentColorModel cm = new java.awt.image.ComponentColorModel(
                java.awt.color.ColorSpace.getInstance(java.awt.color.ColorSpace.CS_sRGB), false, false,
                java.awt.Transparency.OPAQUE, java.awt.image.DataBuffer.TYPE_USHORT);
        BufferedImage rgb = new BufferedImage(cm, cm.createCompatibleWritableRaster(3, 1), false, null);
        rgb.getRaster().setPixels(0, 0, 3, 1, new int[] {200, 300, 65535, 256, 511, 1000, 32768, 32767, 255});
        byte[] c = InitImage.decode(write(rgb, "png"), "init_image", 100).rgb();
        int[] expected = {0, 1, 255, 1, 1, 3, 128, 127, 0};
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], c[i] & 0xff, "rgb sample " + i);
        }
    }

    @Test
    void declaredSizeIsCheckedBeforeDecoding() throws IOException {
        BufferedImage img = new BufferedImage(20, 10, BufferedImage.TYPE_INT_RGB);
        byte[] png = write(img, "png");
        InvalidRequestException e = assertThrows(InvalidRequestException.class,
                () -> InitImage.decode(png, "init_image", 199));
        assertEquals("init_image", e.field());
        assertTrue(e.getMessage().contains("20x10"), e.getMessage());
        assertEquals(200, InitImage.decode(png, "init_image", 200).rgb().length / 3);
    }

    /** A JPEG with an EXIF block (big-endian TIFF, one IFD entry: Orientation = {@code o}) right after SOI. */
    private static byte[] withOrientation(byte[] jpeg, int o) {
        ByteBuffer tiff = ByteBuffer.allocate(8 + 2 + 12 + 4);
        tiff.put((byte) 'M').put((byte) 'M').putShort((short) 42).putInt(8);
        tiff.putShort((short) 1);
        tiff.putShort((short) 0x0112).putShort((short) 3).putInt(1).putShort((short) o).putShort((short) 0);
        tiff.putInt(0);
        byte[] exif = ByteBuffer.allocate(6 + tiff.capacity()).put("Exif\0\0".getBytes()).put(tiff.array()).array();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(0xff);
        out.write(0xd8);
        out.write(0xff);
        out.write(0xe1);
        out.write((exif.length + 2) >> 8);
        out.write((exif.length + 2) & 0xff);
        out.writeBytes(exif);
        out.write(jpeg, 2, jpeg.length - 2);
        return out.toByteArray();
    }

    @Test
    void exifOrientationIsApplied() throws IOException {
        BufferedImage img = new BufferedImage(16, 8, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 8; y++) {
            for (int x = 0; x < 16; x++) {
                img.setRGB(x, y, x < 8 ? 0xff0000 : 0x0000ff); // red left half, blue right half
            }
        }
        byte[] jpeg = write(img, "jpeg");
        InitImage plain = InitImage.decode(jpeg, "init_image", 1000);
        assertEquals(1, InitImage.ExifOrientation.of(jpeg));
        for (int o = 1; o <= 8; o++) {
            byte[] tagged = withOrientation(jpeg, o);
            assertEquals(o, InitImage.ExifOrientation.of(tagged));
            InitImage d = InitImage.decode(tagged, "init_image", 1000);
            InitImage expected = plain.oriented(o);
            assertEquals(expected.width(), d.width(), "orientation " + o);
            assertArrayEquals(expected.rgb(), d.rgb(), "orientation " + o);
        }
        // 6 = "rotate 90 clockwise to view": the left (red) half ends on top
        InitImage six = InitImage.decode(withOrientation(jpeg, 6), "init_image", 1000);
        assertEquals(8, six.width());
        assertEquals(16, six.height());
        assertTrue((six.rgb()[0] & 0xff) > 200 && (six.rgb()[2] & 0xff) < 60, "top-left is red");
        int last = six.rgb().length - 3;
        assertTrue((six.rgb()[last] & 0xff) < 60 && (six.rgb()[last + 2] & 0xff) > 200, "bottom-right is blue");
    }

    @Test
    void orientationsTransformPixelsAsPil() {
        // 3x2: pixel values 0..5 in the red channel, row-major
        byte[] rgb = new byte[18];
        for (int i = 0; i < 6; i++) {
            rgb[i * 3] = (byte) i;
        }
        InitImage a = new InitImage(3, 2, rgb);
        // PIL: ROTATE_270 (orientation 6) of [[0,1,2],[3,4,5]] is [[3,0],[4,1],[5,2]]; ROTATE_90 (8) is [[2,5],[1,4],[0,3]]
        assertArrayEquals(new int[] {3, 0, 4, 1, 5, 2}, red(a.oriented(6)));
        assertArrayEquals(new int[] {2, 5, 1, 4, 0, 3}, red(a.oriented(8)));
        assertArrayEquals(new int[] {0, 3, 1, 4, 2, 5}, red(a.oriented(5)));
        assertArrayEquals(new int[] {5, 2, 4, 1, 3, 0}, red(a.oriented(7)));
        assertArrayEquals(new int[] {2, 1, 0, 5, 4, 3}, red(a.oriented(2)));
        assertArrayEquals(new int[] {5, 4, 3, 2, 1, 0}, red(a.oriented(3)));
        assertArrayEquals(new int[] {3, 4, 5, 0, 1, 2}, red(a.oriented(4)));
    }

    private static int[] red(InitImage im) {
        int[] r = new int[im.width() * im.height()];
        for (int i = 0; i < r.length; i++) {
            r[i] = im.rgb()[i * 3] & 0xff;
        }
        return r;
    }
}
