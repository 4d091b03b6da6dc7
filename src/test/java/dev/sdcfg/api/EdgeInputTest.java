package dev.sdcfg.api;

import dev.sdcfg.jobs.JobService;
import io.quarkus.test.junit.QuarkusTest;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.sdcfg.api.ApiTestSupport.JSON;
import static dev.sdcfg.api.ApiTestSupport.PROBLEM;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Inputs at the edge that are accepted (not errors), and job ids that name no job. */
@QuarkusTest
class EdgeInputTest {

    @Inject
    JobService jobs;

    @BeforeEach
    void ready() {
        ApiTestSupport.awaitReady(jobs);
        ApiTestSupport.awaitIdle(jobs);
    }

    @Test
    void aPromptBeyondClipsWindowIsAcceptedWithAWarning() {
        String prompt = "word ".repeat(399).strip(); // 1994 characters, within sd.limits.max-prompt-chars
        // plain syntax (diffusers' reading): cut at CLIP's 77 tokens, with a warning per field
        JsonPath r = given().contentType(JSON)
                .body("{\"prompt\": \"" + prompt + "\", \"negative_prompt\": \"" + prompt + "\", \"size\": \"64x64\","
                        + " \"steps\": 1, \"prompt_syntax\": \"plain\"}")
                .post("/v1/images/generations").then().statusCode(200).extract().jsonPath();
        List<String> warnings = r.getList("warnings");
        assertTrue(warnings.stream().anyMatch(w -> w.startsWith("prompt was cut to 77 tokens")), warnings.toString());
        assertTrue(warnings.stream().anyMatch(w -> w.startsWith("negative_prompt was cut to 77 tokens")),
                warnings.toString());
        assertEquals(1, r.getList("data").size());
        // A1111 syntax (the default): 399 tokens are 6 chunks of 75, within sd.limits.max-prompt-chunks; nothing cut
        JsonPath a = given().contentType(JSON)
                .body("{\"prompt\": \"" + prompt + "\", \"negative_prompt\": \"" + prompt + "\", \"size\": \"64x64\","
                        + " \"steps\": 1}")
                .post("/v1/images/generations").then().statusCode(200).extract().jsonPath();
        assertEquals(List.of(), a.getList("warnings"));
        assertEquals(1, a.getList("data").size());
    }

    @Test
    void jsonWithACharsetOrInUpperCaseIsJson() {
        long accepted = jobs.acceptedTotal();
        given().header("Content-Type", "application/json; charset=utf-8")
                .body("{\"prompt\": \"a\", \"size\": \"64x64\", \"steps\": 1}").post("/v1/jobs").then().statusCode(202);
        given().header("Content-Type", "Application/JSON")
                .body("{\"prompt\": \"a\", \"size\": \"64x64\", \"steps\": 1}").post("/v1/jobs").then().statusCode(202);
        assertEquals(accepted + 2, jobs.acceptedTotal());
        ApiTestSupport.awaitIdle(jobs);
    }

    /** Job ids are opaque: any id that names no retained job is 404 (never 400), on every job path and method. */
    @Test
    void idsThatNameNoJobAre404() {
        String real = given().contentType(JSON).body("{\"prompt\": \"a\", \"size\": \"64x64\", \"steps\": 1}")
                .post("/v1/jobs").then().statusCode(202).extract().path("id");
        for (String id : List.of("not-a-uuid", "00000000-0000-0000-0000-000000000000", real.toUpperCase(),
                "x".repeat(300), "%20", "..%2F..")) {
            for (String path : List.of("/v1/jobs/" + id, "/v1/jobs/" + id + "/images/0", "/v1/jobs/" + id + "/grid")) {
                given().urlEncodingEnabled(false).get(path).then().statusCode(404).contentType(PROBLEM)
                        .body("type", equalTo("urn:sdcfg:problem:not-found"));
            }
            given().urlEncodingEnabled(false).delete("/v1/jobs/" + id).then().statusCode(404).contentType(PROBLEM);
        }
        given().get("/v1/jobs/" + real + "/images/abc").then().statusCode(404).contentType(PROBLEM);
        ApiTestSupport.awaitIdle(jobs);
    }

    /** The API takes no query parameters; any given are ignored (README). */
    @Test
    void queryParametersAreIgnored() {
        String id = given().contentType(JSON).body("{\"prompt\": \"a\", \"size\": \"64x64\", \"steps\": 1}")
                .queryParam("wait", "abc").post("/v1/jobs").then().statusCode(202).extract().path("id");
        given().queryParam("wait", "abc").get("/v1/jobs/" + id).then().statusCode(200).body("id", equalTo(id));
        ApiTestSupport.awaitIdle(jobs);
    }
}
