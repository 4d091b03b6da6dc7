package dev.sdcfg.pipeline;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.pipeline.image.PngEncoder;
import dev.sdcfg.runtime.DjlRuntime;
import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LatentPreviewTest {

    /**
     * Four pixels (a 1×4 latent, CHW) computed by hand from A1111's table: rgb = Σ_l x_l·C[l], then
     * trunc(255·clamp(rgb·0.5 + 0.5, 0, 1)).
     */
    @Test
    void projectionMatchesHandComputedValues() {
        float[] latent = {
                // channel 0 at pixels 0..3
                1f, 0f, 10f, 0.5f,
                // channel 1
                0f, 0f, 0f, -1f,
                // channel 2
                0f, 0f, 0f, 2f,
                // channel 3
                0f, 1f, 0f, 0.25f,
        };
        byte[] rgb = LatentPreview.toRgb(latent, 1, 4);
        int[] expected = {
                // [1,0,0,0]: R 0.298 → 0.649·255 = 165.495 → 165; G 0.207 → 153.8925 → 153; B 0.208 → 154.02 → 154
                165, 153, 154,
                // [0,0,0,1]: −0.184 → 104.04 → 104; −0.271 → 92.9475 → 92; −0.473 → 67.1925 → 67
                104, 92, 67,
                // [10,0,0,0]: 2.98·0.5 + 0.5 > 1 for every channel → 255
                255, 255, 255,
                // [0.5,−1,2,0.25]: R 0.149 − 0.187 − 0.316 − 0.046 = −0.4   → 0.3    ·255 = 76.5    → 76
                //                  G 0.1035 − 0.286 + 0.378 − 0.06775 = 0.12775 → 0.563875·255 = 143.788 → 143
                //                  B 0.104 − 0.173 + 0.528 − 0.11825 = 0.34075  → 0.670375·255 = 170.946 → 170
                76, 143, 170,
        };
        assertEquals(expected.length, rgb.length);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], rgb[i] & 0xff, "byte " + i);
        }
        // strongly negative values clamp to 0
        byte[] black = LatentPreview.toRgb(new float[] {-10f, 0f, 0f, 0f}, 1, 1);
        assertArrayEquals(new byte[] {0, 0, 0}, black);
    }

    /**
     * Against A1111's own cheap_approximation and single_sample_to_image conversion (tools/preview-goldens): 8-bit
     * images within one level (the einsum may sum in another order; in practice the bytes are equal).
     */
    @Test
    void projectionMatchesA1111sCheapApproximation() throws Exception {
        java.nio.file.Path file = dev.sdcfg.testutil.ExtraGoldens.root("preview").resolve("cheap_approx.json");
        com.google.gson.JsonObject doc = com.google.gson.JsonParser.parseString(java.nio.file.Files.readString(file))
                .getAsJsonObject();
        int cases = 0;
        int maxDiff = 0;
        for (com.google.gson.JsonElement e : doc.getAsJsonArray("cases")) {
            com.google.gson.JsonObject c = e.getAsJsonObject();
            int h = c.get("height").getAsInt();
            int w = c.get("width").getAsInt();
            com.google.gson.JsonArray lat = c.getAsJsonArray("latent_chw");
            float[] latent = new float[lat.size()];
            for (int i = 0; i < latent.length; i++) {
                latent[i] = (float) lat.get(i).getAsDouble();
            }
            com.google.gson.JsonArray want = c.getAsJsonArray("rgb_hwc");
            byte[] rgb = LatentPreview.toRgb(latent, h, w);
            assertEquals(want.size(), rgb.length);
            for (int i = 0; i < rgb.length; i++) {
                maxDiff = Math.max(maxDiff, Math.abs((rgb[i] & 0xff) - want.get(i).getAsInt()));
            }
            cases++;
        }
        assertEquals(3, cases);
        assertTrue(maxDiff <= 1, "max difference " + maxDiff + " levels");
    }

    @Test
    void renderReadsImageZeroAndEncodesALatentSizedPng() {
        try (NDManager m = DjlRuntime.engine().newBaseManager(Device.cpu())) {
            int h = 3;
            int w = 5;
            float[] values = new float[2 * 4 * h * w];
            for (int i = 0; i < values.length; i++) {
                values[i] = (float) Math.sin(i * 0.7) * 1.5f;
            }
            NDArray x0 = m.create(values, new Shape(2, 4, h, w)).toType(DataType.FLOAT16, false);
            LatentPreview.Image img = LatentPreview.render(x0);
            assertEquals(w, img.width());
            assertEquals(h, img.height());
            BufferedImage decoded = PngEncoder.decode(img.png());
            assertEquals(w, decoded.getWidth());
            assertEquals(h, decoded.getHeight());
            // image 0 only, through the fp16 values the array holds
            float[] first = x0.get(0).toType(DataType.FLOAT32, false).toFloatArray();
            byte[] rgb = LatentPreview.toRgb(first, h, w);
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int p = 3 * (y * w + x);
                    int expected = (rgb[p] & 0xff) << 16 | (rgb[p + 1] & 0xff) << 8 | (rgb[p + 2] & 0xff);
                    assertEquals(expected, decoded.getRGB(x, y) & 0xffffff, "pixel " + x + "," + y);
                }
            }
        }
    }

    @Test
    void onlyFourChannelLatentsAreSupported() {
        assertTrue(LatentPreview.supports(4));
        assertFalse(LatentPreview.supports(16));
        try (NDManager m = DjlRuntime.engine().newBaseManager(Device.cpu())) {
            assertThrows(IllegalArgumentException.class, () -> LatentPreview.render(m.zeros(new Shape(1, 3, 2, 2))));
        }
        assertThrows(IllegalArgumentException.class, () -> LatentPreview.toRgb(new float[7], 1, 2));
    }
}
