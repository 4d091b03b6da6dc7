package dev.sdcfg.api;

import dev.sdcfg.jobs.JobService;
import dev.sdcfg.pipeline.image.PngEncoder;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import io.restassured.specification.RequestSpecification;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import static dev.sdcfg.api.ApiTestSupport.png;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * POST /v1/images/edits with real multipart/form-data requests (as OpenAI clients send them), through the demo
 * model: transparent pixels of the mask (or of the image) are edited.
 */
@QuarkusTest
class EditsApiTest {

    private static final String EDITS = "/v1/images/edits";

    @Inject
    JobService jobs;

    @BeforeEach
    void ready() {
        ApiTestSupport.awaitReady(jobs);
    }

    /** 64×64 ARGB: opaque, except a fully transparent centre when {@code hole}. */
    private static byte[] argb(boolean hole) {
        BufferedImage img = new BufferedImage(64, 64, BufferedImage.TYPE_INT_ARGB);
        for (int y = 0; y < 64; y++) {
            for (int x = 0; x < 64; x++) {
                boolean centre = x >= 16 && x < 48 && y >= 16 && y < 48;
                img.setRGB(x, y, (hole && centre ? 0 : 0xff) << 24 | (x * 4) << 16 | (y * 4) << 8 | 0x40);
            }
        }
        return TestImages.encodeImage(img, "png");
    }

    private static RequestSpecification form(byte[] image, byte[] mask) {
        RequestSpecification r = given().multiPart("prompt", "a red door").multiPart("steps", "3")
                .multiPart("seed", "5").multiPart("model", "dall-e-2");
        if (image != null) {
            r = r.multiPart("image", "image.png", image, "image/png");
        }
        if (mask != null) {
            r = r.multiPart("mask", "mask.png", mask, "image/png");
        }
        return r;
    }

    @Test
    void transparentPixelsOfTheImageAreEdited() {
        JsonPath j = form(argb(true), null).post(EDITS).then().statusCode(200).extract().jsonPath();
        byte[] out = Base64.getDecoder().decode(j.getString("data[0].b64_json"));
        assertEquals(64, png(out).getWidth());
        assertEquals("1.0", PngEncoder.readText(out).get("strength"));
    }

    /** A lossless WebP with alpha as a multipart file part (named .png: the format is told by content). */
    @Test
    void webpImageWithTransparency() {
        JsonPath j = given().multiPart("prompt", "a red door").multiPart("steps", "3").multiPart("seed", "5")
                .multiPart("image", "upload.png", TestImages.webp("edit64_alpha.webp"), "application/octet-stream")
                .post(EDITS).then().statusCode(200).extract().jsonPath();
        byte[] out = Base64.getDecoder().decode(j.getString("data[0].b64_json"));
        assertEquals(64, png(out).getWidth());
        assertEquals("1.0", PngEncoder.readText(out).get("strength"));
    }

    @Test
    void maskAlphaWithNAndSize() {
        JsonPath j = form(TestImages.png(64, 64), argb(true)).multiPart("n", "2").multiPart("size", "64x64")
                .multiPart("response_format", "b64_json").post(EDITS).then().statusCode(200).extract().jsonPath();
        assertEquals(List.of(5, 6), j.getList("seeds"));
        assertEquals(2, j.getList("data").size());
    }

    private static Map<String, String> problem(Response r, int status) {
        assertEquals(status, r.statusCode(), r.asString());
        assertTrue(r.contentType().startsWith("application/problem+json"), r.contentType());
        List<Map<String, String>> errors = JsonPath.from(r.asString()).getList("errors");
        assertEquals(1, errors.size(), r.asString());
        return errors.get(0);
    }

    @Test
    void refusals() {
        long accepted = jobs.acceptedTotal();
        assertEquals("image", problem(form(TestImages.png(64, 64), null).post(EDITS), 422).get("field"),
                "no transparency and no mask");
        assertEquals("mask", problem(form(TestImages.png(64, 64), TestImages.png(64, 64)).post(EDITS), 422)
                .get("field"), "a mask without alpha");
        assertEquals("image", problem(form(null, argb(true)).post(EDITS), 400).get("field"), "no image part");
        assertEquals("n", problem(form(argb(true), null).multiPart("n", "two").post(EDITS), 400).get("field"));
        Map<String, String> e = problem(form(argb(true), null).multiPart("size", "128x128").post(EDITS), 422);
        assertEquals("image", e.get("field"), "size differs from the image's");
        assertTrue(e.get("message").startsWith("image is 64x64"), e.get("message"));
        assertEquals("image", problem(form("GIF89a....".getBytes(), null).post(EDITS), 422).get("field"));
        assertEquals("mask", problem(form(argb(false), TestImages.pngHeaderOnly(90000, 90000)).post(EDITS), 422)
                .get("field"), "a mask declaring a huge canvas");
        assertEquals("mask", problem(form(argb(false), TestImages.webp("animated.webp")).post(EDITS), 422)
                .get("field"), "an animated WebP mask");
        assertEquals("image", problem(form(TestImages.webp("lossy_bad_alpha.webp"), argb(true)).post(EDITS), 422)
                .get("field"), "a lossy WebP image whose alpha chunk libwebp refuses");
        assertEquals("Content-Type", problem(given().contentType("application/json").body("{\"prompt\": \"a\"}")
                .post(EDITS), 415).get("field"));
        assertEquals(accepted, jobs.acceptedTotal(), "no refused edit was enqueued");
    }
}
