package dev.sdcfg.api;

import dev.sdcfg.jobs.JobService;
import dev.sdcfg.pipeline.image.PngEncoder;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.util.Map;

import static dev.sdcfg.api.ApiTestSupport.JSON;
import static dev.sdcfg.api.ApiTestSupport.awaitStatus;
import static dev.sdcfg.api.ApiTestSupport.png;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code hires} on POST /v1/images/generations and /v1/jobs, through the real demo-model pipeline. */
@QuarkusTest
class HiresApiTest {

    @Inject
    JobService jobs;

    @BeforeEach
    void ready() {
        ApiTestSupport.awaitReady(jobs);
    }

    @Test
    void lanczosSecondPassGivesTheLargerImageAndInfotextThatRegeneratesIt() {
        String body = "{\"prompt\": \"a lighthouse\", \"size\": \"64x72\", \"steps\": 4, \"seed\": 8, \"sampler\": "
                + "\"euler\", \"hires\": {\"scale\": 1.3, \"steps\": 6, \"strength\": 0.5, \"upscaler\": \"lanczos\"}}";
        byte[] out = given().contentType(JSON).accept("image/png").body(body).post("/v1/images/generations")
                .then().statusCode(200).extract().asByteArray();
        BufferedImage img = png(out);
        assertEquals(80, img.getWidth(), "int(64 × 1.3) = 83, rounded down to a multiple of 8");
        assertEquals(88, img.getHeight(), "int(72 × 1.3) = 93 → 88");
        Map<String, String> text = PngEncoder.readText(out);
        assertEquals("80x88", text.get("size"));
        assertEquals("{\"scale\":1.3,\"steps\":6,\"strength\":0.5,\"upscaler\":\"lanczos\"}", text.get("hires"));
        String parameters = text.get("parameters");
        assertTrue(parameters.contains("Size: 64x72, ") && parameters.contains("Denoising strength: 0.5, "
                + "Hires upscale: 1.3, Hires steps: 6, Hires upscaler: Lanczos"), parameters);

        Map<String, Object> request = given().contentType("image/png").body(out).post("/v1/png-info")
                .then().statusCode(200).extract().jsonPath().getMap("request");
        assertEquals(Map.of("scale", 1.3f, "steps", 6, "strength", 0.5f, "upscaler", "lanczos"), request.get("hires"));
        byte[] again = given().contentType(JSON).accept("image/png").body(request).post("/v1/images/generations")
                .then().statusCode(200).extract().asByteArray();
        assertArrayEquals(out, again, "the request from png-info regenerates the same PNG");
    }

    @Test
    void jobCountsBothPassesAndEchoesTheDefaults() {
        String id = given().contentType(JSON)
                .body("{\"prompt\": \"a lighthouse\", \"size\": \"64x64\", \"steps\": 4, \"seed\": 3, \"hires\": {}}")
                .post("/v1/jobs").then().statusCode(202).extract().path("id");
        JsonPath done = awaitStatus(id, "succeeded", "failed", "canceled");
        assertEquals("succeeded", done.getString("status"), done.prettify());
        // 4 first-pass steps + int(4 × 0.75) = 3 of the second pass (steps 0: the first pass's 4)
        assertEquals(7, done.getInt("progress.total"));
        assertEquals(7, done.getInt("progress.step"));
        assertEquals(Map.of("scale", 2.0f, "steps", 0, "strength", 0.75f, "upscaler", "latent"),
                done.getMap("request.hires"));
        byte[] image = given().get("/v1/jobs/" + id + "/images/0").then().statusCode(200).extract().asByteArray();
        assertEquals(128, png(image).getWidth());
        assertEquals(128, png(image).getHeight());
        assertTrue(PngEncoder.readText(image).get("parameters").contains("Hires upscaler: Latent"));
    }
}
