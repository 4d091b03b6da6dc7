package dev.sdcfg.api;

import dev.sdcfg.jobs.JobService;
import dev.sdcfg.pipeline.image.PngEncoder;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.awt.image.BufferedImage;
import java.util.Base64;
import java.util.Map;

import static dev.sdcfg.api.ApiTestSupport.JSON;
import static dev.sdcfg.api.ApiTestSupport.png;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** init_image / strength on POST /v1/images/generations, through the real demo-model pipeline. */
@QuarkusTest
class Img2ImgApiTest {

    @Inject
    JobService jobs;

    @BeforeEach
    void ready() {
        ApiTestSupport.awaitReady(jobs);
    }

    private static byte[] generate(String initImageJson, String more) {
        JsonPath j = given().contentType(JSON)
                .body("{\"prompt\": \"a lighthouse\", \"steps\": 4, \"seed\": 21, \"init_image\": " + initImageJson
                        + more + "}")
                .post("/v1/images/generations").then().statusCode(200).extract().jsonPath();
        return Base64.getDecoder().decode(j.getString("data[0].b64_json"));
    }

    @Test
    void outputTakesTheInitImageSizeAndRecordsStrength() {
        byte[] out = generate("\"" + TestImages.dataUrl(TestImages.png(72, 64)) + "\"", ", \"strength\": 0.5");
        BufferedImage img = png(out);
        assertEquals(72, img.getWidth());
        assertEquals(64, img.getHeight());
        Map<String, String> text = PngEncoder.readText(out);
        assertEquals("0.5", text.get("strength"));
        assertEquals("72x64", text.get("size"));
    }

    @Test
    void sameRequestSameImageAndStrengthMatters() {
        String init = "\"" + TestImages.b64(TestImages.encode(64, 64, BufferedImage.TYPE_INT_ARGB, "png")) + "\"";
        byte[] a = generate(init, ", \"strength\": 0.5, \"size\": \"64x64\"");
        byte[] b = generate(init, ", \"strength\": 0.5");
        assertArrayEquals(a, b, "a seed and an image mean one output");
        byte[] c = generate(init, ", \"strength\": 1.0");
        assertFalse(java.util.Arrays.equals(a, c), "strength 1 runs more of the schedule than 0.5");
    }

    @Test
    void inpaintingKeepsWhatTheMaskKeeps() {
        byte[] init = TestImages.png(64, 64);
        java.awt.image.BufferedImage m = new java.awt.image.BufferedImage(64, 64, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 16; y < 48; y++) {
            for (int x = 16; x < 48; x++) {
                m.getRaster().setSample(x, y, 0, 255); // repaint the centre
            }
        }
        byte[] mask = TestImages.encodeImage(m, "png");
        byte[] a = generate("\"" + TestImages.b64(init) + "\"", ", \"mask\": \"" + TestImages.dataUrl(mask) + "\"");
        byte[] b = generate("\"" + TestImages.b64(init) + "\"", ", \"mask\": \"" + TestImages.b64(mask)
                + "\", \"strength\": 1.0");
        assertArrayEquals(a, b, "a mask makes strength default to 1");
        assertEquals("1.0", PngEncoder.readText(a).get("strength"));
        assertEquals(64, png(a).getWidth());
    }

    /**
     * A lossless and a lossy WebP (64x64) through the HTTP API: the WebP readers (TwelveMonkeys; libwebp, whose
     * native library is loaded from its jar) work inside the Quarkus runtime, not only in a plain unit test, and
     * the run equals the one from the same pixels sent as PNG. For the lossy one those pixels are Pillow's own
     * decode of the file (gen_webp.py): the run is the one diffusers' load_image would start from.
     */
    @ParameterizedTest
    @ValueSource(strings = {"init64", "init64_lossy"})
    void webpInitImage(String name) {
        byte[] webp = TestImages.webp(name + ".webp");
        byte[] fromWebp = generate("\"data:image/webp;base64," + TestImages.b64(webp) + "\"", ", \"strength\": 0.5");
        BufferedImage img = png(fromWebp);
        assertEquals(64, img.getWidth());
        assertEquals(64, img.getHeight());
        byte[] asPng;
        if (name.equals("init64_lossy")) {
            asPng = TestImages.webp(name + ".expected.png"); // Pillow's decode, stored losslessly
        } else {
            // decoded by InitImage as the server does, re-encoded without loss
            dev.sdcfg.pipeline.InitImage pixels = dev.sdcfg.pipeline.InitImage.decode(webp, "init_image", 1 << 20);
            asPng = PngEncoder.encodeRgb(pixels.rgb(), 64, 64, Map.of());
        }
        byte[] fromPng = generate("\"" + TestImages.b64(asPng) + "\"", ", \"strength\": 0.5");
        assertArrayEquals(fromPng, fromWebp, "same pixels, same seed: same image whatever the container");
    }

    @Test
    void maskBlurMovesTheBinarizedEdge() {
        byte[] init = TestImages.png(64, 64);
        java.awt.image.BufferedImage m = new java.awt.image.BufferedImage(64, 64, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 8; y < 40; y++) {
            for (int x = 8; x < 40; x++) {
                m.getRaster().setSample(x, y, 0, 255);
            }
        }
        String mask = ", \"mask\": \"" + TestImages.b64(TestImages.encodeImage(m, "png")) + "\"";
        byte[] sharp = generate("\"" + TestImages.b64(init) + "\"", mask);
        byte[] zero = generate("\"" + TestImages.b64(init) + "\"", mask + ", \"mask_blur\": 0");
        assertArrayEquals(sharp, zero, "mask_blur 0 is no blur");
        byte[] blurred = generate("\"" + TestImages.b64(init) + "\"", mask + ", \"mask_blur\": 8");
        assertFalse(java.util.Arrays.equals(sharp, blurred), "a blurred mask rounds the repainted square's corners");
        assertEquals("8", PngEncoder.readText(blurred).get("mask_blur"));
    }

    @Test
    void onlyMaskedKeepsEverythingOutsideTheMaskExactly() {
        byte[] init = TestImages.png(64, 64);
        java.awt.image.BufferedImage m = new java.awt.image.BufferedImage(64, 64, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 20; y < 30; y++) {
            for (int x = 24; x < 36; x++) {
                m.getRaster().setSample(x, y, 0, 255);
            }
        }
        byte[] out = generate("\"" + TestImages.b64(init) + "\"", ", \"mask\": \""
                + TestImages.b64(TestImages.encodeImage(m, "png")) + "\", \"inpaint_full_res\": true, "
                + "\"inpaint_full_res_padding\": 4");
        assertEquals("4", PngEncoder.readText(out).get("inpaint_full_res_padding"));
        byte[] before = dev.sdcfg.pipeline.InitImage.decode(init, "init", 1 << 20).rgb();
        byte[] after = dev.sdcfg.pipeline.InitImage.decode(out, "out", 1 << 20).rgb();
        boolean changedInside = false;
        for (int y = 0; y < 64; y++) {
            for (int x = 0; x < 64; x++) {
                boolean inside = y >= 20 && y < 30 && x >= 24 && x < 36;
                for (int c = 0; c < 3; c++) {
                    int i = (y * 64 + x) * 3 + c;
                    if (!inside) {
                        assertEquals(before[i], after[i], "outside the mask, at " + x + "," + y);
                    } else if (before[i] != after[i]) {
                        changedInside = true;
                    }
                }
            }
        }
        assertTrue(changedInside, "the masked box is repainted");
    }

    @Test
    void jpegInitImage() {
        byte[] jpeg = TestImages.encode(64, 80, BufferedImage.TYPE_INT_RGB, "jpeg");
        BufferedImage img = png(generate("\"data:image/jpeg;base64," + TestImages.b64(jpeg) + "\"", ""));
        assertEquals(64, img.getWidth());
        assertEquals(80, img.getHeight());
    }
}
