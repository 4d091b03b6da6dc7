package dev.sdcfg.pipeline.image;

import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.util.LinkedHashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PngEncoderTest {

    static int[] pattern(int w, int h) {
        int[] px = new int[w * h];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                px[y * w + x] = (x * 37 & 0xFF) << 16 | (y * 91 & 0xFF) << 8 | ((x ^ y) * 13 & 0xFF);
            }
        }
        return px;
    }

    @Test
    void packedPixelsRoundTripExactly() {
        int w = 24;
        int h = 16;
        int[] px = pattern(w, h);
        byte[] png = PngEncoder.encode(px, w, h, Map.of());
        assertEquals((byte) 0x89, png[0]);
        assertEquals('P', png[1]);
        BufferedImage back = PngEncoder.decode(png);
        assertEquals(w, back.getWidth());
        assertEquals(h, back.getHeight());
        int[] got = back.getRGB(0, 0, w, h, null, 0, w);
        for (int i = 0; i < got.length; i++) {
            got[i] &= 0xFFFFFF;
        }
        assertArrayEquals(px, got);
    }

    @Test
    void interleavedBytesMatchPackedPixels() {
        int w = 8;
        int h = 8;
        int[] px = pattern(w, h);
        byte[] rgb = new byte[w * h * 3];
        for (int i = 0; i < px.length; i++) {
            rgb[3 * i] = (byte) (px[i] >> 16);
            rgb[3 * i + 1] = (byte) (px[i] >> 8);
            rgb[3 * i + 2] = (byte) px[i];
        }
        BufferedImage a = PngEncoder.decode(PngEncoder.encodeRgb(rgb, w, h, null));
        int[] got = a.getRGB(0, 0, w, h, null, 0, w);
        for (int i = 0; i < px.length; i++) {
            assertEquals(px[i], got[i] & 0xFFFFFF, "pixel " + i);
        }
    }

    @Test
    void textChunksRoundTripIncludingNonLatin1() {
        Map<String, String> text = new LinkedHashMap<>();
        text.put("parameters", "{\"prompt\":\"a cat\",\"seed\":42,\"guidance\":{\"normalizer\":\"fullnorm\"}}");
        text.put("Software", "sd-guidance-service");
        text.put("prompt", "ein Kätzchen, 子猫, котёнок");
        byte[] png = PngEncoder.encode(pattern(4, 4), 4, 4, text);
        Map<String, String> back = PngEncoder.readText(png);
        assertEquals(text, back);
        // the Latin-1 values use tEXt, the other one iTXt
        String raw = new String(png, java.nio.charset.StandardCharsets.ISO_8859_1);
        assertTrue(raw.contains("tEXtparameters"), "tEXt chunk for a Latin-1 value");
        assertTrue(raw.contains("iTXtprompt"), "iTXt chunk for a non-Latin-1 value");
    }

    @Test
    void argbImagesAreWrittenAsRgb() {
        BufferedImage argb = new BufferedImage(3, 2, BufferedImage.TYPE_INT_ARGB);
        argb.setRGB(1, 1, 0xFF123456);
        BufferedImage back = PngEncoder.decode(PngEncoder.encode(argb, Map.of("k", "v")));
        assertEquals(0x123456, back.getRGB(1, 1) & 0xFFFFFF);
        assertEquals(3, back.getColorModel().getNumComponents());
    }

    @Test
    void rejectsBadInput() {
        assertThrows(IllegalArgumentException.class, () -> PngEncoder.encode(new int[5], 2, 2, null));
        assertThrows(IllegalArgumentException.class, () -> PngEncoder.encode(new int[0], 0, 0, null));
        assertThrows(IllegalArgumentException.class, () -> PngEncoder.encodeRgb(new byte[4 * 3 - 1], 2, 2, null));
        assertThrows(IllegalArgumentException.class, () -> PngEncoder.encode(new int[4], 2, 2, Map.of("", "x")));
        assertThrows(IllegalArgumentException.class, () -> PngEncoder.encode(new int[4], 2, 2, Map.of(" lead", "x")));
        assertThrows(IllegalArgumentException.class, () -> PngEncoder.encode(new int[4], 2, 2, Map.of("k".repeat(80), "x")));
        assertThrows(IllegalArgumentException.class, () -> PngEncoder.encode(new int[4], 2, 2, Map.of("ключ", "x")));
        assertThrows(IllegalArgumentException.class, () -> PngEncoder.decode(new byte[] {1, 2, 3}));
    }
}
