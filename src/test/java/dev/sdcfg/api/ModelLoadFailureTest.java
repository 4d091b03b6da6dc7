package dev.sdcfg.api;

import dev.sdcfg.jobs.JobService;
import dev.sdcfg.jobs.fake.Await;
import dev.sdcfg.jobs.fake.FakeGeneratorProvider;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import static dev.sdcfg.api.ApiTestSupport.JSON;
import static dev.sdcfg.api.ApiTestSupport.PROBLEM;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** While the model loads, and after it failed to load: 503 with Retry-After and the reason; readiness DOWN. */
@QuarkusTest
@TestProfile(LoadFailureProfile.class)
class ModelLoadFailureTest {

    @Inject
    JobService jobs;

    @Inject
    FakeGeneratorProvider fake;

    @Test
    void loadingThenFailedIsReportedEverywhere() {
        // loading (the fake holds the load until released)
        assertEquals(JobService.State.LOADING, jobs.state());
        given().contentType(JSON).body("{\"prompt\": \"a\", \"size\": \"64x64\"}").post("/v1/images/generations")
                .then().statusCode(503).contentType(PROBLEM)
                .header("Retry-After", equalTo("3"))
                .body("state", equalTo("loading"))
                .body("detail", containsString("loading"));
        given().get("/v1/guidance").then().statusCode(503).contentType(PROBLEM);
        given().get("/q/health/ready").then().statusCode(503).body("status", equalTo("DOWN"))
                .body("checks.find { it.name == 'model' }.data.state", equalTo("loading"));
        given().get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
        given().get("/v1/models").then().statusCode(200).body("data[0].status", equalTo("loading"))
                .body("data[0].queue", equalTo("memory"));
        // bad input is still a 400, before the 503
        given().contentType(JSON).body("{\"prompt\": \"\"}").post("/v1/jobs").then().statusCode(400);

        fake.releaseLoad();
        Await.until(() -> jobs.state() == JobService.State.FAILED, "load failure");

        given().contentType(JSON).body("{\"prompt\": \"a\", \"size\": \"64x64\"}").post("/v1/jobs")
                .then().statusCode(503).contentType(PROBLEM)
                .body("state", equalTo("failed"))
                .body("detail", containsString(FakeGeneratorProvider.LOAD_FAILURE))
                .header("Retry-After", equalTo("18"));
        given().contentType(JSON).body("{\"prompt\": \"a\", \"guidance\": [1]}").post("/v1/experiments")
                .then().statusCode(503).body("detail", containsString(FakeGeneratorProvider.LOAD_FAILURE));
        given().get("/v1/samplers").then().statusCode(503).contentType(PROBLEM);
        given().get("/q/health/ready").then().statusCode(503).body("status", equalTo("DOWN"))
                .body("checks.find { it.name == 'model' }.data.state", equalTo("failed"))
                .body("checks.find { it.name == 'model' }.data.reason", containsString(FakeGeneratorProvider.LOAD_FAILURE));
        given().get("/q/health/live").then().statusCode(200).body("status", equalTo("UP"));
        given().get("/v1/models").then().statusCode(200)
                .body("data[0].status", equalTo("failed"))
                .body("data[0].reason", containsString(FakeGeneratorProvider.LOAD_FAILURE));
        assertEquals(0, jobs.acceptedTotal());
    }
}
