package dev.sdcfg.api;

import dev.sdcfg.jobs.JobService;
import dev.sdcfg.pipeline.image.PngEncoder;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.util.Base64;
import java.util.List;
import java.util.Map;

import static dev.sdcfg.api.ApiTestSupport.JSON;
import static dev.sdcfg.api.ApiTestSupport.PROBLEM;
import static dev.sdcfg.api.ApiTestSupport.awaitStatus;
import static dev.sdcfg.api.ApiTestSupport.png;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.endsWith;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.hasItem;
import static org.hamcrest.Matchers.notNullValue;
import static org.hamcrest.Matchers.startsWith;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

@QuarkusTest
class GenerationApiTest {

    @Inject
    JobService jobs;

    @BeforeEach
    void ready() {
        ApiTestSupport.awaitReady(jobs);
    }

    @Test
    void syncPngWithAcceptImagePng() {
        Response r = given().contentType(JSON).accept("image/png")
                .body("{\"prompt\": \"a red fox\", \"size\": \"80x64\", \"steps\": 2, \"seed\": 11}")
                .post("/v1/images/generations");
        r.then().statusCode(200).contentType("image/png").header("X-Job-Id", notNullValue()).header("X-Seed", "11");
        byte[] bytes = r.asByteArray();
        BufferedImage img = png(bytes);
        assertEquals(80, img.getWidth());
        assertEquals(64, img.getHeight());
        assertTrue(PngEncoder.readText(bytes).values().stream().anyMatch(v -> v.contains("a red fox")),
                "the generation parameters are in a text chunk");
    }

    @Test
    void syncJsonWithBase64ImagesAndSeeds() {
        JsonPath j = given().contentType(JSON)
                .body("{\"prompt\": \"two cats\", \"n\": 2, \"width\": 72, \"height\": 64, \"steps\": 3, \"seed\": 7, "
                        + "\"guidance\": {\"normalizer\": \"fullnorm\", \"g\": {\"schedule\": \"cosine\", \"max\": 0.25, "
                        + "\"min\": 0.05}}, \"model\": \"dall-e-2\"}")
                .post("/v1/images/generations")
                .then().statusCode(200).contentType(JSON).header("X-Job-Id", notNullValue())
                .extract().jsonPath();
        assertEquals(List.of(7, 8), j.getList("seeds"));
        assertEquals(2, j.getList("data").size());
        for (int i = 0; i < 2; i++) {
            BufferedImage img = png(Base64.getDecoder().decode(j.getString("data[" + i + "].b64_json")));
            assertEquals(72, img.getWidth());
            assertEquals(64, img.getHeight());
            assertEquals(7 + i, j.getLong("data[" + i + "].seed"));
        }
        assertTrue(j.getLong("created") > 1_600_000_000L);
        assertTrue(j.getMap("timings").containsKey("run_ms"));
    }

    @Test
    void absentSeedIsRandomAndReportedBack() {
        JsonPath j = given().contentType(JSON).body("{\"prompt\": \"x\", \"size\": \"64x64\"}")
                .post("/v1/images/generations").then().statusCode(200).extract().jsonPath();
        long seed = j.getLong("seeds[0]");
        assertTrue(seed >= 0 && seed <= RequestValidator.MAX_SEED, "seed " + seed);
        JsonPath job = given().get("/v1/jobs/" + j.getString("id")).then().statusCode(200).extract().jsonPath();
        assertEquals(seed, job.getLong("request.seed"));
        assertEquals(2, job.getInt("request.steps"), "sd.defaults.steps of the test profile");
    }

    @Test
    void syncUrlFormatLinksToTheJobsImages() {
        String url = given().contentType(JSON)
                .body("{\"prompt\": \"a boat\", \"size\": \"64x64\", \"response_format\": \"url\", \"steps\": 1}")
                .post("/v1/images/generations").then().statusCode(200)
                .body("data[0].b64_json", equalTo(null))
                .extract().path("data[0].url");
        assertTrue(url.matches("/v1/jobs/[0-9a-f-]+/images/0"), url);
        BufferedImage img = png(given().get(url).then().statusCode(200).contentType("image/png").extract().asByteArray());
        assertEquals(64, img.getWidth());
    }

    @Test
    void asyncJobIsFollowedToSuccess() {
        Response r = given().contentType(JSON)
                .body("{\"prompt\": \"a lighthouse\", \"size\": \"64x64\", \"steps\": 4, \"seed\": 99, \"n\": 2, "
                        + "\"guidance\": 7.5, \"sampler\": \"euler\", \"sampler_options\": {\"use_karras_sigmas\": true}}")
                .post("/v1/jobs");
        r.then().statusCode(202).contentType(JSON)
                .header("Location", endsWith("/v1/jobs/" + r.path("id")))
                .body("status", org.hamcrest.Matchers.oneOf("queued", "running", "succeeded"))
                .body("object", equalTo("job"))
                .body("kind", equalTo("generation"));
        String id = r.path("id");
        JsonPath done = awaitStatus(id, "succeeded", "failed", "canceled");
        assertEquals("succeeded", done.getString("status"));
        assertEquals(8, done.getInt("progress.step"));
        assertEquals(8, done.getInt("progress.total"));
        assertEquals(1.0, done.getDouble("progress.fraction"));
        assertEquals(List.of(99, 100), done.getList("seeds"));
        assertEquals(null, (Object) done.get("queue_position"));
        // the echo is the spec as it runs (canonical form), here plain CFG with g = 7.5
        assertEquals(Map.of("normalizer", "none", "g", 7.5f), done.getMap("request.guidance"));
        assertEquals(Map.of("use_karras_sigmas", true), done.getMap("request.sampler_options"));
        assertEquals("euler", done.getString("request.sampler"));
        assertTrue(done.getString("started_at") != null && done.getString("finished_at") != null);
        assertTrue(done.getMap("timings").containsKey("queue_wait_ms"));
        for (int i = 0; i < 2; i++) {
            String url = done.getString("images[" + i + "].url");
            assertEquals("/v1/jobs/" + id + "/images/" + i, url);
            byte[] bytes = given().get(url).then().statusCode(200).contentType("image/png")
                    .header("Content-Disposition", containsString(id + "-" + i + ".png")).extract().asByteArray();
            assertEquals(64, png(bytes).getHeight());
        }
        given().get("/v1/jobs/" + id + "/images/2").then().statusCode(404).contentType(PROBLEM);
        given().get("/v1/jobs/" + id + "/grid").then().statusCode(404).contentType(PROBLEM)
                .body("detail", containsString("not an experiment"));
        // DELETE of a finished job deletes it
        given().delete("/v1/jobs/" + id).then().statusCode(204);
        given().get("/v1/jobs/" + id).then().statusCode(404).contentType(PROBLEM);
    }

    @Test
    void experimentProducesOneImagePerSpecAndATitledGrid() {
        Response r = given().contentType(JSON)
                .body("{\"prompt\": \"a watercolor fox\", \"seed\": 5, \"steps\": 2, \"size\": \"64x64\", "
                        + "\"guidance\": [3, {\"normalizer\": \"basenorm\", \"g\": 7.5}, "
                        + "{\"preset\": \"FullNormGuidance_Sched_TCos\"}], \"columns\": 3}")
                .post("/v1/experiments");
        r.then().statusCode(202).header("Location", endsWith("/v1/jobs/" + r.path("id")))
                .body("kind", equalTo("experiment"))
                .body("request.labels", equalTo(List.of("CFG g=3", "BaseNorm g=7.5", "FullNormGuidance_Sched_TCos")))
                .body("request.guidance[2].normalizer", equalTo("fullnorm"));
        String id = r.path("id");
        JsonPath done = awaitStatus(id, "succeeded", "failed", "canceled");
        assertEquals("succeeded", done.getString("status"), done.prettify());
        assertEquals(3, done.getList("images").size());
        assertEquals(List.of(5, 5, 5), done.getList("seeds"));
        assertEquals("FullNormGuidance_Sched_TCos", done.getString("images[2].label"));
        assertEquals(3, done.getInt("progress.generations"));
        assertEquals(6, done.getInt("progress.total"));
        assertEquals("/v1/jobs/" + id + "/grid", done.getString("grid_url"));
        byte[] grid = given().get(done.getString("grid_url")).then().statusCode(200).contentType("image/png")
                .extract().asByteArray();
        BufferedImage img = png(grid);
        assertEquals(3 * 64 + 4 * 4, img.getWidth(), "three cells in a row");
        assertTrue(img.getHeight() > 64 + 8, "a title band above the cells");
        Map<String, String> text = PngEncoder.readText(grid);
        assertTrue(text.get("Description").contains("2: FullNormGuidance_Sched_TCos"), text.toString());
        assertTrue(text.get("Title").contains("a watercolor fox"));
        assertEquals(64, png(given().get("/v1/jobs/" + id + "/images/1").then().statusCode(200).extract().asByteArray())
                .getWidth());
    }

    @Test
    void experimentLabelsBecomeGridTitles() {
        String id = given().contentType(JSON)
                .body("{\"prompt\": \"p\", \"steps\": 1, \"size\": \"64x64\", \"guidance\": [1, 2], "
                        + "\"labels\": [\"low\", \"high\"]}")
                .post("/v1/experiments").then().statusCode(202).extract().path("id");
        JsonPath done = awaitStatus(id, "succeeded", "failed", "canceled");
        assertEquals(List.of("low", "high"), done.getList("images.label"));
        assertEquals("0: low\n1: high", PngEncoder.readText(given().get("/v1/jobs/" + id + "/grid").then()
                .statusCode(200).extract().asByteArray()).get("Description"));
    }

    @Test
    void catalogEndpointsDescribeTheEngine() {
        given().get("/v1/guidance").then().statusCode(200).contentType(JSON)
                .body("normalizers.name", hasItem("fullnorm"))
                .body("presets.name", hasItem("FullNormGuidance_Sched_TCos"));
        given().get("/v1/samplers").then().statusCode(200).contentType(JSON)
                .body("name", hasItem("euler"));
        given().get("/v1/models").then().statusCode(200).contentType(JSON)
                .body("object", equalTo("list"))
                .body("data[0].status", equalTo("ready"))
                .body("data[0].object", equalTo("model"))
                .body("data[0].native_size", equalTo(64));
    }

    @Test
    void healthIsUpOnceTheModelIsReady() {
        given().get("/q/health/ready").then().statusCode(200)
                .body("status", equalTo("UP"))
                .body("checks.find { it.name == 'model' }.data.state", equalTo("ready"));
        given().get("/q/health/live").then().statusCode(200)
                .body("checks.find { it.name == 'generation-worker' }.status", equalTo("UP"));
    }

    @Test
    void routingErrorsAreProblemsToo() {
        given().get("/v1/jobs/does-not-exist").then().statusCode(404).contentType(PROBLEM)
                .body("type", equalTo("urn:sdcfg:problem:not-found"))
                .body("status", equalTo(404))
                .body("instance", equalTo("/v1/jobs/does-not-exist"))
                .body("errors", equalTo(List.of()));
        given().delete("/v1/jobs/does-not-exist").then().statusCode(404).contentType(PROBLEM);
        given().get("/v1/jobs/does-not-exist/images/0").then().statusCode(404).contentType(PROBLEM);
        given().contentType(JSON).body("{}").put("/v1/jobs/abc").then().statusCode(405).contentType(PROBLEM)
                .body("type", equalTo("urn:sdcfg:problem:method-not-allowed"));
        given().get("/v1/images/generations").then().statusCode(405).contentType(PROBLEM);
        given().accept("text/html").get("/v1/guidance").then().statusCode(406).contentType(PROBLEM);
        given().contentType("text/plain").body("a cat").post("/v1/jobs").then().statusCode(415)
                .contentType(PROBLEM).body("errors[0].field", equalTo("Content-Type"));
        given().get("/v1/nothing-here").then().statusCode(404);
        given().contentType(JSON).accept("image/png").body("{\"prompt\": \"x\", \"n\": 2}")
                .post("/v1/images/generations").then().statusCode(406).contentType(PROBLEM)
                .body("errors[0].field", equalTo("n"))
                .body("type", startsWith("urn:sdcfg:problem:"));
    }
}
