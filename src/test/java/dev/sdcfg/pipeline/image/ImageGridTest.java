package dev.sdcfg.pipeline.image;

import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ImageGridTest {

    static BufferedImage solid(int w, int h, int rgb) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.setRGB(x, y, rgb);
            }
        }
        return img;
    }

    @Test
    void layoutPlacesEveryImageBelowItsTitle() {
        List<BufferedImage> imgs = List.of(solid(64, 64, 0xFF0000), solid(64, 64, 0x00FF00), solid(64, 64, 0x0000FF));
        BufferedImage grid = ImageGrid.compose(imgs, List.of("g=7.5", "fullnorm", "TCos"), 2);
        int titleH = BitmapFont.lineHeight(1) + 2;
        int gap = ImageGrid.GAP;
        assertEquals(2 * 64 + 3 * gap, grid.getWidth());
        assertEquals(2 * (titleH + 64) + 3 * gap, grid.getHeight());
        // centre pixels of each cell carry the image colour
        int[][] origins = {{gap, gap}, {2 * gap + 64, gap}, {gap, 2 * gap + titleH + 64}};
        int[] colours = {0xFF0000, 0x00FF00, 0x0000FF};
        for (int i = 0; i < 3; i++) {
            int cx = origins[i][0] + 32;
            int cy = origins[i][1] + titleH + 32;
            assertEquals(colours[i], grid.getRGB(cx, cy) & 0xFFFFFF, "cell " + i);
            assertEquals(colours[i], grid.getRGB(origins[i][0], origins[i][1] + titleH) & 0xFFFFFF, "corner " + i);
        }
        // the empty 4th cell is background
        assertEquals(ImageGrid.BACKGROUND, grid.getRGB(2 * gap + 64 + 32, 2 * gap + titleH + 64 + 32) & 0xFFFFFF);
        // each title band holds text pixels
        for (int i = 0; i < 3; i++) {
            assertTrue(countText(grid, origins[i][0], origins[i][1], 64, titleH) > 10, "title pixels in cell " + i);
        }
    }

    @Test
    void titleGlyphsAreDrawnExactly() {
        BufferedImage grid = ImageGrid.compose(List.of(solid(64, 32, 0x808080)), List.of("A"), 1);
        // one char, centred: x = gap + (64 - 6) / 2, y = gap + 1
        int x0 = ImageGrid.GAP + (64 - BitmapFont.CELL_WIDTH) / 2;
        int y0 = ImageGrid.GAP + 1;
        for (int gy = 0; gy < BitmapFont.GLYPH_HEIGHT; gy++) {
            for (int gx = 0; gx < BitmapFont.GLYPH_WIDTH; gx++) {
                int expect = BitmapFont.pixel('A', gx, gy) ? ImageGrid.TEXT : ImageGrid.BACKGROUND;
                assertEquals(expect, grid.getRGB(x0 + gx, y0 + gy) & 0xFFFFFF, "glyph pixel " + gx + "," + gy);
            }
        }
    }

    @Test
    void noTitlesMeansNoTitleBandAndMixedSizesAreCentred() {
        BufferedImage grid = ImageGrid.compose(List.of(solid(32, 32, 0x111111), solid(16, 8, 0x222222)), null, 3);
        assertEquals(2 * 32 + 3 * ImageGrid.GAP, grid.getWidth());
        assertEquals(32 + 2 * ImageGrid.GAP, grid.getHeight());
        int x1 = 2 * ImageGrid.GAP + 32;
        assertEquals(0x222222, grid.getRGB(x1 + 8, ImageGrid.GAP + 12) & 0xFFFFFF);
        assertEquals(ImageGrid.BACKGROUND, grid.getRGB(x1 + 2, ImageGrid.GAP + 2) & 0xFFFFFF);
    }

    @Test
    void bigCellsUseBiggerFont() {
        BufferedImage grid = ImageGrid.compose(List.of(solid(256, 256, 0)), List.of("x"), 1);
        assertEquals(256 + 2 * ImageGrid.GAP, grid.getWidth());
        assertEquals(256 + BitmapFont.lineHeight(2) + 4 + 2 * ImageGrid.GAP, grid.getHeight());
    }

    @Test
    void wrapsLongTitles() {
        assertEquals(List.of("FullNormGuidance_Sched_TCos"), ImageGrid.wrap("FullNormGuidance_Sched_TCos", 40, 3));
        assertEquals(List.of("fullnorm", "cosine", "0.25"), ImageGrid.wrap("fullnorm cosine 0.25", 8, 3));
        assertEquals(List.of("abcde", "fghij", "kl..."), ImageGrid.wrap("abcdefghijklmnopqrstuvwxyz", 5, 3));
        assertEquals(List.of(), ImageGrid.wrap("   ", 5, 3));
        List<String> lines = ImageGrid.wrap("{\"normalizer\":\"fullnorm\",\"g\":{\"schedule\":\"cosine\"}}", 10, 3);
        assertEquals(3, lines.size());
        assertTrue(lines.stream().allMatch(l -> l.length() <= 10), lines.toString());
    }

    @Test
    void rejectsBadArguments() {
        assertThrows(IllegalArgumentException.class, () -> ImageGrid.compose(List.of(), List.of(), 1));
        assertThrows(IllegalArgumentException.class, () -> ImageGrid.compose(List.of(solid(8, 8, 0)), null, 0));
    }

    @Test
    void everyPrintableGlyphIsDistinctAndNonEmpty() {
        java.util.Set<String> seen = new java.util.HashSet<>();
        for (char c = 0x21; c <= 0x7E; c++) {
            boolean[] bits = new boolean[35];
            int on = 0;
            for (int i = 0; i < 35; i++) {
                bits[i] = BitmapFont.pixel(c, i % 5, i / 5);
                on += bits[i] ? 1 : 0;
            }
            assertTrue(on > 0, "glyph for '" + c + "' is empty");
            assertTrue(seen.add(Arrays.toString(bits)), "glyph for '" + c + "' duplicates another");
        }
        assertFalse(BitmapFont.pixel(' ', 2, 3));
        // outside ASCII: drawn as '?'
        for (int i = 0; i < 35; i++) {
            assertEquals(BitmapFont.pixel('?', i % 5, i / 5), BitmapFont.pixel('é', i % 5, i / 5));
        }
        assertNotEquals(BitmapFont.width("ab", 1), BitmapFont.width("ab", 2));
    }

    static int countText(BufferedImage img, int x, int y, int w, int h) {
        int n = 0;
        for (int yy = y; yy < y + h; yy++) {
            for (int xx = x; xx < x + w; xx++) {
                if ((img.getRGB(xx, yy) & 0xFFFFFF) == ImageGrid.TEXT) {
                    n++;
                }
            }
        }
        return n;
    }

    /** The experiments grid titles each image with its guidance label; none of its characters may come out as '?'. */
    @Test
    void everyCharacterOfGuidanceLabelsHasAGlyph() {
        List<String> specs = List.of(
                "{\"normalizer\":\"rescale\",\"g\":15,\"phi\":0.7}",
                "{\"normalizer\":\"apg\",\"g\":7.5}",
                "{\"normalizer\":\"none\",\"g\":{\"schedule\":\"cosine\",\"max\":7.5,\"min\":1.5,\"warmup\":0.2},"
                        + "\"interval\":{\"start\":0.2,\"end\":0.8}}",
                "{\"normalizer\":\"fullnorm\",\"g\":{\"schedule\":\"array\",\"values\":[0.1,0.2,0.3]}}");
        StringBuilder labels = new StringBuilder();
        for (String spec : specs) {
            labels.append(dev.sdcfg.guidance.GuidanceSpec.parse(spec).label());
        }
        assertTrue(labels.toString().contains("φ") && labels.toString().contains("η"), labels.toString());
        for (char c : labels.toString().toCharArray()) {
            assertTrue(BitmapFont.canDisplay(c), "no glyph for '" + c + "' in " + labels);
        }
        // and a glyph of its own is not the '?' fallback
        assertFalse(Arrays.deepEquals(glyph('φ'), glyph('?')));
    }

    private static boolean[][] glyph(char c) {
        boolean[][] g = new boolean[BitmapFont.GLYPH_WIDTH][BitmapFont.GLYPH_HEIGHT];
        for (int x = 0; x < BitmapFont.GLYPH_WIDTH; x++) {
            for (int y = 0; y < BitmapFont.GLYPH_HEIGHT; y++) {
                g[x][y] = BitmapFont.pixel(c, x, y);
            }
        }
        return g;
    }
}
