package dev.sdcfg.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdcfg.guidance.GuidanceSpec;
import java.awt.image.BufferedImage;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The evaluation grid's specs are valid and distinct, its prompts are of the demo grammar, its statistics right. */
class GuidanceEvaluationTest {

    @Test
    void everyGridCellIsAValidDistinctSpec() {
        Set<String> canonical = new HashSet<>();
        int cells = 0;
        for (String n : GuidanceEvaluation.NORMALIZERS) {
            for (String s : GuidanceEvaluation.SCHEDULES) {
                for (double g : GuidanceEvaluation.strengths(n)) {
                    GuidanceSpec spec = GuidanceSpec.parse(GuidanceEvaluation.spec(n, s, g));
                    assertEquals(n, spec.normalizer().id());
                    canonical.add(spec.canonicalJson());
                    cells++;
                }
            }
        }
        assertEquals(cells, canonical.size(), "two grid cells are the same guidance");
        assertEquals(7 * 4 * 4, cells);
    }

    @Test
    void promptsAreOfTheDemoGrammar() {
        for (String p : GuidanceEvaluation.PROMPTS) {
            assertTrue(ScenePrompt.parse(p).objects().size() >= 1, p);
        }
    }

    @Test
    void colourStatistics() {
        BufferedImage red = solid(0xFF0000);
        BufferedImage grey = solid(0x808080);
        double[] r = ImageStats.colour(red);
        assertEquals(1.0, r[0], 1e-12);          // fully saturated
        assertEquals(1.0, r[1], 1e-12);          // every channel at 0 or 255
        double[] g = ImageStats.colour(grey);
        assertEquals(0.0, g[0], 1e-12);
        assertEquals(0.0, g[1], 1e-12);
        assertEquals(0.0, ImageStats.meanPairwiseRms(List.of(red, red, red)), 1e-12);
        // red vs grey: channel differences 127, 128, 128 of 255
        double expected = Math.sqrt((127.0 * 127 + 128.0 * 128 * 2) / 3) / 255;
        assertEquals(expected, ImageStats.rms(red, grey), 1e-12);
        assertEquals(expected * 2 / 3, ImageStats.meanPairwiseRms(List.of(red, red, grey)), 1e-12);
    }

    static BufferedImage solid(int rgb) {
        BufferedImage img = new BufferedImage(8, 8, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 8; y++) {
            for (int x = 0; x < 8; x++) {
                img.setRGB(x, y, rgb);
            }
        }
        return img;
    }
}
