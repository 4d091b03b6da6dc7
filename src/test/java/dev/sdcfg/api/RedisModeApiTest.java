package dev.sdcfg.api;

import dev.sdcfg.jobs.JobService;
import dev.sdcfg.jobs.fake.FakeGeneratorProvider;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.response.Response;
import jakarta.inject.Inject;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.sdcfg.api.ApiTestSupport.JSON;
import static dev.sdcfg.api.ApiTestSupport.PROBLEM;
import static dev.sdcfg.api.ApiTestSupport.awaitStatus;
import static io.restassured.RestAssured.given;
import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.equalTo;
import static org.hamcrest.Matchers.notNullValue;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The HTTP API in Redis mode with API keys: idempotency keys, authentication, and bad input that must be refused
 * with a clear 4xx before anything reaches Redis (the test lists the store's keys).
 */
@QuarkusTest
@TestProfile(RedisModeProfile.class)
class RedisModeApiTest {

    static final String BODY = "{\"prompt\": \"a red boat\", \"size\": \"64x64\", \"steps\": 2}";
    static final String AUTH = "Bearer " + RedisModeProfile.KEY_B;

    @Inject
    JobService jobs;

    @BeforeEach
    void ready() {
        ApiTestSupport.awaitReady(jobs);
        RedisModeProfile.RedisResource.redis.flushAll();
    }

    /** The store's keys but the stream the workers read (a worker makes it when it starts, requests never do). */
    List<String> storeKeys() {
        return RedisModeProfile.RedisResource.redis.keys().stream().filter(k -> !k.equals("sd:queue")).toList();
    }

    @Test
    void jobsLiveInRedisAndTheViewSaysWhoRanThem() {
        assertTrue(jobs.sharedQueue());
        String id = given().header("Authorization", AUTH).contentType(JSON).body(BODY).post("/v1/jobs")
                .then().statusCode(202).extract().path("id");
        assertTrue(storeKeys().contains("sd:job:" + id), storeKeys().toString());
        var done = given().header("Authorization", AUTH).get("/v1/jobs/" + id).then().statusCode(200).extract();
        var view = awaitStatusWithAuth(id);
        assertEquals("succeeded", view.getString("status"));
        assertEquals(1, view.getInt("attempt"));
        assertEquals(jobs.workerName(), view.getString("worker"));
        given().header("Authorization", AUTH).get("/v1/jobs/" + id + "/images/0").then().statusCode(200)
                .contentType("image/png");
        assertTrue(done.statusCode() == 200);
    }

    io.restassured.path.json.JsonPath awaitStatusWithAuth(String id) {
        io.restassured.RestAssured.requestSpecification = new io.restassured.builder.RequestSpecBuilder()
                .addHeader("Authorization", AUTH).build();
        try {
            return awaitStatus(id, "succeeded", "failed", "canceled");
        } finally {
            io.restassured.RestAssured.requestSpecification = null;
        }
    }

    @Test
    void theSameIdempotencyKeyAndBodyGiveTheSameJobAnotherBodyIs422() {
        String first = given().header("Authorization", AUTH).header("Idempotency-Key", "order-42").contentType(JSON)
                .body(BODY).post("/v1/jobs").then().statusCode(202).extract().path("id");
        String again = given().header("Authorization", AUTH).header("Idempotency-Key", "order-42").contentType(JSON)
                .body(BODY).post("/v1/jobs").then().statusCode(202).extract().path("id");
        assertEquals(first, again);
        List<String> before = storeKeys();
        given().header("Authorization", AUTH).header("Idempotency-Key", "order-42").contentType(JSON)
                .body("{\"prompt\": \"another boat\", \"size\": \"64x64\", \"steps\": 2}").post("/v1/jobs")
                .then().statusCode(422).contentType(PROBLEM).body("errors[0].field", equalTo("Idempotency-Key"))
                .body("detail", containsString(first));
        given().header("Authorization", AUTH).header("Idempotency-Key", "order-42").contentType(JSON)
                .body("{\"prompt\": \"a red boat\", \"guidance\": [7.5, 3]}").post("/v1/experiments")
                .then().statusCode(422).contentType(PROBLEM);
        assertEquals(before.stream().filter(k -> !k.contains(":img:")).toList(),
                storeKeys().stream().filter(k -> !k.contains(":img:")).toList(), "the refused requests wrote nothing");
    }

    @Test
    void aSynchronousClientThatHangsUpCancelsItsJob() throws Exception {
        FakeGeneratorProvider fake = fakeProvider;
        fake.gate().close();
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", io.restassured.RestAssured.port)) {
            byte[] body = BODY.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            String head = "POST /v1/images/generations HTTP/1.1\r\nHost: localhost\r\nAuthorization: " + AUTH
                    + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length + "\r\n\r\n";
            socket.getOutputStream().write(head.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
            socket.getOutputStream().write(body);
            socket.getOutputStream().flush();
            dev.sdcfg.jobs.fake.Await.until(() -> fake.gate().waiting() == 1, "the job runs");
        } // the client hangs up
        String id = jobs.runningJob().orElseThrow().id();
        var view = awaitStatusWithAuth(id);
        assertEquals("canceled", view.getString("status"));
        assertTrue(view.getBoolean("cancel_requested"));
        fake.gate().open();
    }

    @Inject
    dev.sdcfg.jobs.fake.FakeGeneratorProvider fakeProvider;

    /**
     * The event stream reads the job from Redis (what the replica running it writes at each lease heartbeat), so a
     * stream on any replica follows it: queued, started, progress as the worker advances, then succeeded.
     */
    @Test
    void theEventStreamFollowsAJobThroughTheSharedStore() throws Exception {
        var gate = fakeProvider.gate();
        gate.close();
        try {
            String running = given().header("Authorization", AUTH).contentType(JSON).body(BODY).post("/v1/jobs")
                    .then().statusCode(202).extract().path("id");
            dev.sdcfg.jobs.fake.Await.until(() -> gate.waiting() == 1, "first job running");
            String id = given().header("Authorization", AUTH).contentType(JSON).body(BODY).post("/v1/jobs")
                    .then().statusCode(202).extract().path("id");
            java.net.URI uri = java.net.URI.create("http://127.0.0.1:" + io.restassured.RestAssured.port
                    + "/v1/jobs/" + id + "/events");
            try (SseClient none = SseClient.open(uri, java.util.Map.of())) {
                assertEquals(401, none.response.statusCode());
            }
            try (SseClient sse = SseClient.open(uri, java.util.Map.of("Authorization", AUTH))) {
                assertEquals(200, sse.response.statusCode());
                java.time.Duration wait = java.time.Duration.ofSeconds(30);
                SseClient.Event queued = sse.nextEvent(wait);
                assertEquals("queued", queued.name());
                assertEquals(1, new io.restassured.path.json.JsonPath(queued.data()).getInt("queue_position"));
                given().header("Authorization", AUTH).delete("/v1/jobs/" + running).then().statusCode(202);
                assertEquals("started", sse.nextEvent(wait).name());
                dev.sdcfg.jobs.fake.Await.until(() -> gate.waiting() == 1, "second job held at step 1");
                gate.release(1); // step 1 done; the heartbeat (50 ms) writes it to Redis
                SseClient.Event progress = sse.nextEvent(wait);
                assertEquals("progress", progress.name());
                assertEquals(1, new io.restassured.path.json.JsonPath(progress.data()).getInt("step"));
                gate.open();
                List<SseClient.Event> rest = sse.rest(wait);
                SseClient.Event last = rest.get(rest.size() - 1);
                assertEquals("succeeded", last.name());
                assertEquals(jobs.workerName(), new io.restassured.path.json.JsonPath(last.data()).getString("worker"));
            }
        } finally {
            gate.open();
        }
    }

    /**
     * Redis mode previews: the worker writes the latest one under job:<id>:preview at its heartbeat (before the
     * progress it belongs to), with an expiry; a stream reads it from there; deleting the job deletes it.
     */
    @Test
    void previewsReachStreamsThroughAnExpiringKeyDeletedWithTheJob() throws Exception {
        var gate = fakeProvider.gate();
        gate.close();
        try {
            String id = given().header("Authorization", AUTH).contentType(JSON)
                    .body("{\"prompt\": \"a red boat\", \"size\": \"64x64\", \"steps\": 3, \"seed\": 11, "
                            + "\"preview_every\": 1}")
                    .post("/v1/jobs").then().statusCode(202).extract().path("id");
            String key = "sd:job:" + id + ":preview";
            dev.sdcfg.jobs.fake.Await.until(() -> gate.waiting() == 1, "held before step 1");
            assertTrue(!storeKeys().contains(key), "no preview before the first step");
            gate.release(1); // step 1 and its preview; the next heartbeat (50 ms) writes both
            dev.sdcfg.jobs.fake.Await.until(() -> storeKeys().contains(key), "the preview key written");
            java.net.URI uri = java.net.URI.create("http://127.0.0.1:" + io.restassured.RestAssured.port
                    + "/v1/jobs/" + id + "/events");
            try (SseClient sse = SseClient.open(uri, java.util.Map.of("Authorization", AUTH))) {
                java.time.Duration wait = java.time.Duration.ofSeconds(30);
                assertEquals("started", sse.nextEvent(wait).name());
                assertEquals("progress", sse.nextEvent(wait).name());
                JobEventsTest.assertPreview(sse.nextEvent(wait), 1, 8, 8);
                gate.open();
                List<SseClient.Event> rest = sse.rest(wait);
                assertEquals("succeeded", rest.get(rest.size() - 1).name());
            }
            long pttl = RedisModeProfile.RedisResource.redis.client()
                    .send(io.vertx.mutiny.redis.client.Request.cmd(io.vertx.mutiny.redis.client.Command.PTTL).arg(key))
                    .await().atMost(java.time.Duration.ofSeconds(5)).toLong();
            assertTrue(pttl > 0, "the preview key expires (PTTL " + pttl + ")");
            given().header("Authorization", AUTH).delete("/v1/jobs/" + id).then().statusCode(204);
            assertTrue(!storeKeys().contains(key), "deleted with the job: " + storeKeys());
        } finally {
            gate.open();
        }
    }

    @Test
    void deleteAnswersWithTheJobAsItIsAfterTheCancel() {
        fakeProvider.gate().close();
        try {
            String running = given().header("Authorization", AUTH).contentType(JSON).body(BODY).post("/v1/jobs")
                    .then().statusCode(202).extract().path("id");
            dev.sdcfg.jobs.fake.Await.until(() -> fakeProvider.gate().waiting() == 1, "first job running");
            String queued = given().header("Authorization", AUTH).contentType(JSON).body(BODY).post("/v1/jobs")
                    .then().statusCode(202).body("queue_position", equalTo(1)).extract().path("id");
            given().header("Authorization", AUTH).delete("/v1/jobs/" + queued).then().statusCode(200)
                    .body("status", equalTo("canceled")).body("error.type", equalTo("canceled"));
            given().header("Authorization", AUTH).delete("/v1/jobs/" + running).then().statusCode(202)
                    .body("status", equalTo("running")).body("cancel_requested", equalTo(true));
            assertEquals("canceled", awaitStatusWithAuth(running).getString("status"));
        } finally {
            fakeProvider.gate().open();
        }
    }

    @Test
    void malformedIdempotencyKeysAre400AndWriteNothing() {
        for (String bad : List.of("x".repeat(256), "has space", "tab\tkey", "ümlaut")) {
            given().header("Authorization", AUTH).header("Idempotency-Key", bad).contentType(JSON).body(BODY)
                    .post("/v1/jobs").then().statusCode(400).contentType(PROBLEM)
                    .body("errors[0].field", equalTo("Idempotency-Key"));
        }
        given().header("Authorization", AUTH).header("Idempotency-Key", "x".repeat(256)).contentType(JSON)
                .body(BODY).post("/v1/images/generations").then().statusCode(400).contentType(PROBLEM);
        assertEquals(List.of(), storeKeys());
    }

    @Test
    void everyV1PathNeedsAKnownBearerKeyAndOpsPathsStayOpen() {
        for (String auth : new String[] {null, "Bearer", "Bearer ", "Bearer wrong-key", "Basic " + RedisModeProfile.KEY_A,
                "Bearer " + RedisModeProfile.KEY_A + "x"}) {
            var req = given().contentType(JSON).body(BODY);
            if (auth != null) {
                req.header("Authorization", auth);
            }
            Response r = req.post("/v1/jobs");
            r.then().statusCode(401).contentType(PROBLEM).header("WWW-Authenticate", "Bearer")
                    .body("status", equalTo(401));
            assertTrue(!r.asString().contains(RedisModeProfile.KEY_A), "a key is never echoed");
        }
        given().get("/v1/models").then().statusCode(401);
        given().get("/v1/jobs/00000000-0000-0000-0000-000000000000").then().statusCode(401);
        assertEquals(List.of(), storeKeys());
        given().header("Authorization", "Bearer " + RedisModeProfile.KEY_A).get("/v1/models").then().statusCode(200)
                .body("data[0].queue", equalTo("redis")).body("data[0].worker", equalTo(jobs.workerName()));
        given().get("/q/health/live").then().statusCode(200);
        given().get("/q/openapi").then().statusCode(200).body(containsString("apiKey"));
        given().get("/q/metrics").then().statusCode(200).body(containsString("sd_queue_depth"));
    }

    @Test
    void jobIdsThatAreNotIdsAre404AndTouchNothing() {
        for (String id : List.of("nope", "*", "sd:queue", "..%2F..", "x".repeat(300),
                "3F1C2A9E-8D7B-4C1A-9E0F-2B6D5A4C3E21")) {
            given().header("Authorization", AUTH).get("/v1/jobs/" + id).then().statusCode(404).contentType(PROBLEM);
            given().header("Authorization", AUTH).delete("/v1/jobs/" + id).then().statusCode(404).contentType(PROBLEM);
            given().header("Authorization", AUTH).get("/v1/jobs/" + id + "/images/0").then().statusCode(404);
        }
        assertEquals(List.of(), storeKeys());
        given().header("Authorization", AUTH).get("/v1/jobs/00000000-0000-0000-0000-000000000000").then()
                .statusCode(404).body("detail", notNullValue());
    }
}
