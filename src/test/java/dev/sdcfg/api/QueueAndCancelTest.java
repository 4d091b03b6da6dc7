package dev.sdcfg.api;

import dev.sdcfg.jobs.JobService;
import dev.sdcfg.jobs.MetricNames;
import dev.sdcfg.jobs.fake.Await;
import dev.sdcfg.jobs.fake.FakeGeneratorProvider;
import dev.sdcfg.jobs.fake.Gate;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.sdcfg.api.ApiTestSupport.JSON;
import static dev.sdcfg.api.ApiTestSupport.PROBLEM;
import static dev.sdcfg.api.ApiTestSupport.awaitStatus;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.endsWith;
import static org.hamcrest.Matchers.equalTo;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Queue behaviour with a queue of two, driven deterministically by the fake generator's gate: jobs hold at the
 * start of a denoising step until the test lets them through.
 */
@QuarkusTest
@TestProfile(GatedQueueProfile.class)
class QueueAndCancelTest {

    @Inject
    JobService jobs;

    @Inject
    FakeGeneratorProvider fake;

    Gate gate;

    @BeforeEach
    void setUp() {
        ApiTestSupport.awaitReady(jobs);
        ApiTestSupport.awaitIdle(jobs);
        gate = fake.gate();
        gate.close();
    }

    @AfterEach
    void tearDown() {
        gate.open();
        ApiTestSupport.awaitIdle(jobs);
    }

    static String submit(String prompt, int steps) {
        return given().contentType(JSON)
                .body("{\"prompt\": \"" + prompt + "\", \"size\": \"64x64\", \"steps\": " + steps + "}")
                .post("/v1/jobs").then().statusCode(202).extract().path("id");
    }

    void awaitBlocked(String id) {
        Await.until(() -> gate.waiting() == 1 && jobs.runningJob().map(j -> j.id().equals(id)).orElse(false),
                "job " + id + " running and held at a step");
    }

    @Test
    void queuedJobIsCanceledAtOnce() {
        String a = submit("a", 3);
        awaitBlocked(a);
        String b = submit("b", 3);
        given().get("/v1/jobs/" + b).then().statusCode(200).body("status", equalTo("queued"))
                .body("queue_position", equalTo(1));
        given().get("/v1/jobs/" + a).then().body("status", equalTo("running"))
                .body("queue_position", equalTo(null));

        given().delete("/v1/jobs/" + b).then().statusCode(200).contentType(JSON)
                .body("status", equalTo("canceled"))
                .body("error.type", equalTo("canceled"));
        assertEquals(0, jobs.queueDepth());
        given().get("/v1/jobs/" + b + "/images/0").then().statusCode(409).contentType(PROBLEM)
                .body("detail", containsString("canceled"));

        gate.open();
        assertEquals("succeeded", awaitStatus(a, "succeeded", "failed", "canceled").getString("status"));
        assertEquals("canceled", given().get("/v1/jobs/" + b).then().extract().path("status"));
    }

    @Test
    void runningJobStopsBeforeItsNextStep() {
        String a = submit("a", 6);
        awaitBlocked(a);
        gate.release(2);
        Await.until(() -> given().get("/v1/jobs/" + a).then().extract().<Integer>path("progress.step") == 2
                && gate.waiting() == 1, "two steps done, held in the third");
        given().get("/v1/jobs/" + a + "/images/0").then().statusCode(409).contentType(PROBLEM)
                .body("type", equalTo("urn:sdcfg:problem:not-finished"));

        given().delete("/v1/jobs/" + a).then().statusCode(202).contentType(JSON)
                .body("cancel_requested", equalTo(true));
        JsonPath done = awaitStatus(a, "succeeded", "failed", "canceled");
        assertEquals("canceled", done.getString("status"));
        assertEquals(3, done.getInt("progress.step"), "the held step completes, the fourth never starts");
        assertEquals("canceled", done.getString("error.type"));

        // the worker goes on
        gate.open();
        String next = submit("next", 2);
        assertEquals("succeeded", awaitStatus(next, "succeeded", "failed", "canceled").getString("status"));
    }

    @Test
    void experimentIsCanceledBetweenItsGenerations() {
        String id = given().contentType(JSON)
                .body("{\"prompt\": \"p\", \"size\": \"64x64\", \"steps\": 1, \"guidance\": [1, 2, 3]}")
                .post("/v1/experiments").then().statusCode(202).extract().path("id");
        awaitBlocked(id);
        given().delete("/v1/jobs/" + id).then().statusCode(202);
        JsonPath done = awaitStatus(id, "succeeded", "failed", "canceled");
        assertEquals("canceled", done.getString("status"));
        assertEquals(1, done.getInt("progress.generation"), "first generation finished, the second never started");
        given().get("/v1/jobs/" + id + "/grid").then().statusCode(409).contentType(PROBLEM);
    }

    @Test
    void fullQueueAnswers429WithRetryAfterAndEnqueuesNothing() {
        String a = submit("a", 1);
        awaitBlocked(a);
        submit("b", 1);
        submit("c", 1);
        long accepted = jobs.acceptedTotal();
        double rejectedBefore = MetricsTest.value(MetricsTest.scrape(), MetricNames.PROM_JOBS, "status=\"rejected\"");
        for (String path : List.of("/v1/jobs", "/v1/images/generations")) {
            given().contentType(JSON).body("{\"prompt\": \"d\", \"size\": \"64x64\", \"steps\": 1}").post(path)
                    .then().statusCode(429).contentType(PROBLEM)
                    .header("Retry-After", org.hamcrest.Matchers.matchesPattern("[1-9][0-9]*"))
                    .body("type", equalTo("urn:sdcfg:problem:queue-full"))
                    .body("status", equalTo(429));
        }
        given().contentType(JSON).body("{\"prompt\": \"e\", \"size\": \"64x64\", \"steps\": 1, \"guidance\": [1]}")
                .post("/v1/experiments").then().statusCode(429).header("Retry-After", org.hamcrest.Matchers.matchesPattern("[1-9][0-9]*"));
        assertEquals(accepted, jobs.acceptedTotal());
        assertEquals(2, jobs.queueDepth());
        double rejectedAfter = MetricsTest.value(MetricsTest.scrape(), MetricNames.PROM_JOBS, "status=\"rejected\"");
        assertEquals(rejectedBefore + 3, rejectedAfter);
        assertEquals(2.0, MetricsTest.value(MetricsTest.scrape(), MetricNames.PROM_QUEUE_DEPTH, null));
        assertEquals(1.0, MetricsTest.value(MetricsTest.scrape(), MetricNames.PROM_JOBS_RUNNING, null));
        given().get("/q/health/ready").then().statusCode(200)
                .body("checks.find { it.name == 'model' }.data.queue_depth", equalTo(2));
    }

    @Test
    void syncRequestThatOutlivesItsWaitAnswers202WithTheJobUrl() {
        Response r = given().contentType(JSON).body("{\"prompt\": \"slow\", \"size\": \"64x64\", \"steps\": 2}")
                .post("/v1/images/generations");
        r.then().statusCode(202).contentType(JSON)
                .header("Location", endsWith("/v1/jobs/" + r.path("id")))
                .body("status", org.hamcrest.Matchers.oneOf("queued", "running"));
        String id = r.path("id");
        gate.open();
        JsonPath done = awaitStatus(id, "succeeded", "failed", "canceled");
        assertEquals("succeeded", done.getString("status"));
        assertEquals(64, ApiTestSupport.png(given().get(done.getString("images[0].url")).then().statusCode(200)
                .extract().asByteArray()).getWidth());
    }

    @Test
    void failingJobsEndFailedAndTheWorkerKeepsServing() {
        gate.open();
        String oom = submit("fail:oom", 2);
        JsonPath failed = awaitStatus(oom, "succeeded", "failed", "canceled");
        assertEquals("failed", failed.getString("status"));
        assertEquals("out_of_memory", failed.getString("error.type"));
        assertTrue(failed.getString("error.message").contains("out of memory"));
        given().get("/v1/jobs/" + oom + "/images/0").then().statusCode(409).contentType(PROBLEM)
                .body("job_id", equalTo(oom));

        given().contentType(JSON).body("{\"prompt\": \"fail:boom\", \"size\": \"64x64\", \"steps\": 1}")
                .post("/v1/images/generations").then().statusCode(500).contentType(PROBLEM)
                .body("type", equalTo("urn:sdcfg:problem:generation-failed"))
                .body("detail", containsString("boom inside the generator"))
                .body("job_id", org.hamcrest.Matchers.notNullValue());

        String ok = submit("fine", 2);
        assertEquals("succeeded", awaitStatus(ok, "succeeded", "failed", "canceled").getString("status"));
        given().get("/q/health/live").then().statusCode(200);
        given().get("/q/health/ready").then().statusCode(200);
    }
}
