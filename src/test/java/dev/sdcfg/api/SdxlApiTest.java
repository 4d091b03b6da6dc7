package dev.sdcfg.api;

import dev.sdcfg.guidance.Normalizer;
import dev.sdcfg.jobs.JobService;
import dev.sdcfg.pipeline.image.PngEncoder;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;

import static dev.sdcfg.api.ApiTestSupport.JSON;
import static dev.sdcfg.api.ApiTestSupport.PROBLEM;
import static dev.sdcfg.api.ApiTestSupport.png;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The HTTP API serving the tiny SDXL model (an SDXL base-layout folder loaded as it is, {@link SdxlModelProfile}):
 * the catalogue says sdxl and its native size; a request with each normalizer runs end to end (two text encoders,
 * pooled embeds and time ids through the UNet, VAE) and returns a PNG; a bad size is a 400.
 */
@QuarkusTest
@TestProfile(SdxlModelProfile.class)
class SdxlApiTest {

    @Inject
    JobService jobs;

    @BeforeEach
    void ready() {
        ApiTestSupport.awaitReady(jobs);
    }

    @Test
    void modelsSaysSdxlAndNativeSize() {
        given().get("/v1/models").then().statusCode(200)
                .body("data[0].status", equalTo("ready"))
                .body("data[0].family", equalTo("sdxl"))
                .body("data[0].native_size", equalTo(64))
                .body("data[0].default_sampler", equalTo("EulerDiscreteScheduler"));
    }

    @Test
    void everyNormalizerRunsEndToEnd() {
        Set<String> images = new HashSet<>();
        for (Normalizer n : Normalizer.values()) {
            Response r = given().contentType(JSON).accept("image/png")
                    .body("{\"prompt\": \"a lighthouse at dusk\", \"negative_prompt\": \"blurry\", \"size\": \"72x64\","
                            + " \"steps\": 3, \"seed\": 5, \"sampler\": \"euler\", \"guidance\": {\"normalizer\": \""
                            + n.id() + "\"}}")
                    .post("/v1/images/generations");
            r.then().log().ifValidationFails().statusCode(200).contentType("image/png");
            byte[] bytes = r.asByteArray();
            BufferedImage img = png(bytes);
            assertEquals(72, img.getWidth(), n.id());
            assertEquals(64, img.getHeight(), n.id());
            assertTrue(PngEncoder.readText(bytes).values().stream().anyMatch(v -> v.contains(n.id())), n.id());
            int[] rgb = img.getRGB(0, 0, 72, 64, null, 0, 72);
            images.add(Arrays.toString(rgb));
        }
        // the normalizers (each with its default parameters) do not all give the same image
        assertTrue(images.size() > 1, "every normalizer gave the same image");
    }

    @Test
    void experimentGridRuns() {
        String id = given().contentType(JSON)
                .body("{\"prompt\": \"a lighthouse\", \"size\": \"64x64\", \"steps\": 2, \"seed\": 9,"
                        + " \"guidance\": [5, {\"normalizer\": \"fullnorm\", \"g\": 0.15}]}")
                .post("/v1/experiments").then().statusCode(202).extract().path("id");
        io.restassured.path.json.JsonPath job = ApiTestSupport.awaitStatus(id, "succeeded", "failed");
        assertEquals("succeeded", job.getString("status"), job.prettify());
        for (int i = 0; i < job.getList("images").size(); i++) {
            given().get("/v1/jobs/" + id + "/images/" + i).then().statusCode(200).contentType("image/png");
        }
        assertTrue(job.getList("images").size() >= 2, "one image per guidance spec (and the grid)");
    }

    @Test
    void sizeConditioningFieldsAreTaken() {
        Response r = given().contentType(JSON).accept("image/png")
                .body("{\"prompt\": \"a lighthouse\", \"size\": \"64x64\", \"steps\": 2, \"seed\": 3,"
                        + " \"original_size\": [2048, 1536], \"crops_coords_top_left\": [16, 0]}")
                .post("/v1/images/generations");
        r.then().statusCode(200).contentType("image/png");
        // target_size defaults to [height, width]
        assertEquals("[2048, 1536, 16, 0, 64, 64]", PngEncoder.readText(r.asByteArray()).get("size_conditions"));
        for (String bad : new String[] {"\"original_size\": [1024]", "\"target_size\": [0, 64]",
                "\"crops_coords_top_left\": [-1, 0]", "\"original_size\": [1024, 99999]"}) {
            given().contentType(JSON).body("{\"prompt\": \"a\", \"size\": \"64x64\", " + bad + "}")
                    .post("/v1/images/generations").then().statusCode(400).contentType(PROBLEM);
        }
    }

    @Test
    void sizeNotMultipleOfTheVaeFactorIsA400() {
        given().contentType(JSON).body("{\"prompt\": \"a\", \"width\": 60, \"height\": 64, \"steps\": 2}")
                .post("/v1/images/generations").then().statusCode(400).contentType(PROBLEM);
    }
}
