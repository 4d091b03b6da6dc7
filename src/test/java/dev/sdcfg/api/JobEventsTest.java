package dev.sdcfg.api;

import dev.sdcfg.jobs.JobService;
import dev.sdcfg.jobs.fake.Await;
import dev.sdcfg.jobs.fake.FakeGeneratorProvider;
import dev.sdcfg.jobs.fake.Gate;
import io.quarkus.test.common.http.TestHTTPResource;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.URI;
import java.net.URL;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static dev.sdcfg.api.ApiTestSupport.JSON;
import static dev.sdcfg.api.ApiTestSupport.awaitStatus;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** GET /v1/jobs/{id}/events read with java.net.http against the running app, driven by the fake's gate. */
@QuarkusTest
@TestProfile(EventsProfile.class)
class JobEventsTest {

    static final Duration WAIT = Duration.ofSeconds(30);

    @Inject
    JobService jobs;

    @Inject
    FakeGeneratorProvider fake;

    @TestHTTPResource("/")
    URL base;

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

    SseClient stream(String id, Map<String, String> headers) throws Exception {
        return SseClient.open(URI.create(base.toString()).resolve("/v1/jobs/" + id + "/events"), headers);
    }

    void awaitBlocked(String id) {
        Await.until(() -> gate.waiting() == 1 && jobs.runningJob().map(j -> j.id().equals(id)).orElse(false),
                "job " + id + " running and held at a step");
    }

    void awaitStep(String id, int step) {
        Await.until(() -> gate.waiting() == 1 && jobs.find(id).map(j -> j.snapshot().stepsDone() == step).orElse(false),
                "job " + id + " held after step " + step);
    }

    @Test
    void eventsComeInOrderAndTheStreamEndsAfterTheFinalOne() throws Exception {
        String a = QueueAndCancelTest.submit("a", 3);
        awaitBlocked(a);
        String b = QueueAndCancelTest.submit("b", 3);
        try (SseClient sse = stream(b, Map.of())) {
            assertEquals(200, sse.response.statusCode());
            assertTrue(sse.response.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
            SseClient.Event queued = sse.nextEvent(WAIT);
            assertEquals("queued", queued.name());
            assertEquals("0", queued.id());
            JsonPath q = new JsonPath(queued.data());
            assertEquals(b, q.getString("id"));
            assertEquals(1, q.getInt("queue_position"));

            given().delete("/v1/jobs/" + a).then().statusCode(202); // a stops; b starts and holds at step 1
            awaitBlocked(b);
            SseClient.Event started = sse.nextEvent(WAIT);
            assertEquals("started", started.name());
            assertEquals("1", started.id());
            assertEquals(1, new JsonPath(started.data()).getInt("attempt"));

            gate.release(1);
            awaitStep(b, 1);
            SseClient.Event p1 = sse.nextEvent(WAIT);
            assertEquals("progress", p1.name());
            assertEquals("3", p1.id());
            JsonPath pj = new JsonPath(p1.data());
            assertEquals(1, pj.getInt("step"));
            assertEquals(3, pj.getInt("total"));
            assertEquals(1.0 / 3, pj.getDouble("fraction"), 1e-6);
            assertNotNull(pj.get("eta_seconds"));

            gate.release(1);
            awaitStep(b, 2);
            SseClient.Event p2 = sse.nextEvent(WAIT);
            assertEquals("progress", p2.name());
            assertEquals(2, new JsonPath(p2.data()).getInt("step"));

            gate.open();
            List<SseClient.Event> rest = sse.rest(WAIT); // returns only once the server ended the stream
            SseClient.Event last = rest.get(rest.size() - 1);
            assertEquals("succeeded", last.name());
            assertEquals("6", last.id()); // 3 + total
            JsonPath done = new JsonPath(last.data());
            assertEquals("succeeded", done.getString("status"));
            assertEquals("/v1/jobs/" + b + "/images/0", done.getString("images[0].url"));
            long previous = Long.parseLong(p2.id());
            for (SseClient.Event e : rest) {
                long id = Long.parseLong(e.id());
                assertTrue(id > previous, "ids increase: " + rest);
                previous = id;
            }
        }
    }

    static String submitWithPreviews(String prompt, int steps, String size, int previewEvery) {
        return given().contentType(JSON)
                .body("{\"prompt\": \"" + prompt + "\", \"size\": \"" + size + "\", \"steps\": " + steps
                        + ", \"seed\": 11, \"preview_every\": " + previewEvery + "}")
                .post("/v1/jobs").then().statusCode(202).extract().path("id");
    }

    /** A preview event's PNG, checked to be the latent-sized image the generator made for that step. */
    static JsonPath assertPreview(SseClient.Event e, int step, int width, int height) {
        assertEquals("preview", e.name(), e.toString());
        assertEquals(null, e.id(), "previews carry no event id");
        JsonPath p = new JsonPath(e.data());
        assertEquals(step, p.getInt("step"));
        assertEquals(width, p.getInt("width"));
        assertEquals(height, p.getInt("height"));
        byte[] png = java.util.Base64.getDecoder().decode(p.getString("png_base64"));
        java.awt.image.BufferedImage img = dev.sdcfg.pipeline.image.PngEncoder.decode(png);
        assertEquals(width, img.getWidth());
        assertEquals(height, img.getHeight());
        java.awt.image.BufferedImage made = dev.sdcfg.pipeline.image.PngEncoder.decode(
                dev.sdcfg.jobs.fake.FakeImageGenerator.preview(11, step - 1, width, height).png());
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                assertEquals(made.getRGB(x, y), img.getRGB(x, y), "pixel " + x + "," + y);
            }
        }
        return p;
    }

    @Test
    void previewsArriveAsLatentSizedPngsOnTheirSteps() throws Exception {
        String id = submitWithPreviews("previews", 5, "64x96", 2);
        awaitBlocked(id);
        try (SseClient sse = stream(id, Map.of())) {
            assertEquals("started", sse.nextEvent(WAIT).name());
            gate.release(1);
            awaitStep(id, 1);
            assertEquals("progress", sse.nextEvent(WAIT).name()); // step 1: no preview (every 2 steps)
            gate.release(1);
            awaitStep(id, 2);
            SseClient.Event p2 = sse.nextEvent(WAIT);
            assertEquals("progress", p2.name());
            assertEquals(2, new JsonPath(p2.data()).getInt("step"));
            JsonPath pj = assertPreview(sse.nextEvent(WAIT), 2, 8, 12); // 64x96 / 8
            assertEquals(5, pj.getInt("total"));
            assertEquals(0, pj.getInt("image"));
            gate.open();
            List<SseClient.Event> rest = sse.rest(WAIT);
            assertEquals("succeeded", rest.get(rest.size() - 1).name());
            for (SseClient.Event e : rest) {
                if (e.name().equals("preview")) {
                    assertPreview(e, 4, 8, 12); // the only later one: none after the last step (5)
                }
            }
        }
        // a new stream on the finished job gets the latest preview once, before the final event
        try (SseClient resumed = stream(id, Map.of("Last-Event-ID", "3"))) {
            List<SseClient.Event> events = resumed.rest(WAIT);
            assertEquals(List.of("progress", "preview", "succeeded"), events.stream().map(SseClient.Event::name).toList());
            assertPreview(events.get(1), 4, 8, 12);
        }
    }

    @Test
    void previewsOffMeansNoPreviewEvents() throws Exception {
        gate.open();
        String off = QueueAndCancelTest.submit("no previews", 4);
        String zero = submitWithPreviews("previews zero", 4, "64x64", 0);
        String beyond = submitWithPreviews("previews beyond the steps", 4, "64x64", 4);
        for (String id : List.of(off, zero, beyond)) {
            awaitStatus(id, "succeeded");
            try (SseClient sse = stream(id, Map.of())) {
                List<SseClient.Event> events = sse.rest(WAIT);
                assertEquals("succeeded", events.get(events.size() - 1).name());
                assertTrue(events.stream().noneMatch(e -> e.name().equals("preview")), events.toString());
            }
        }
    }

    @Test
    void postWithAcceptEventStreamStreamsTheNewJob() throws Exception {
        gate.open();
        URI jobs = URI.create(base.toString()).resolve("/v1/jobs");
        String body = "{\"prompt\": \"streamed\", \"size\": \"64x64\", \"steps\": 3, \"seed\": 11, \"preview_every\": 1}";
        try (SseClient sse = SseClient.post(jobs, body, Map.of())) {
            assertEquals(200, sse.response.statusCode());
            assertTrue(sse.response.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
            String location = sse.response.headers().firstValue("Location").orElseThrow();
            String id = location.substring(location.lastIndexOf('/') + 1);
            assertTrue(location.endsWith("/v1/jobs/" + id), location);
            List<SseClient.Event> events = sse.rest(WAIT);
            List<String> names = events.stream().map(SseClient.Event::name).toList();
            assertTrue(names.contains("started") && names.contains("progress") && names.contains("preview"),
                    names.toString());
            SseClient.Event last = events.get(events.size() - 1);
            assertEquals("succeeded", last.name());
            assertEquals("6", last.id());
            assertEquals(id, new JsonPath(last.data()).getString("id"));
            for (SseClient.Event e : events) {
                assertEquals(id, new JsonPath(e.data()).getString("id"));
                if (e.name().equals("preview")) {
                    assertPreview(e, new JsonPath(e.data()).getInt("step"), 8, 8);
                }
            }
        }
        // the same checks as the JSON form: a bad body is a problem document, not a stream; nothing is queued
        long accepted = this.jobs.acceptedTotal();
        try (SseClient bad = SseClient.post(jobs, "{\"prompt\": \"x\", \"steps\": 0}", Map.of())) {
            assertEquals(400, bad.response.statusCode());
            assertTrue(bad.response.headers().firstValue("Content-Type").orElse("").startsWith(ApiTestSupport.PROBLEM));
        }
        assertEquals(accepted, this.jobs.acceptedTotal());
        // other Accepts keep the 202 answer
        given().contentType(JSON).accept(JSON).body(body).post("/v1/jobs").then().statusCode(202);
    }

    @Test
    void lastEventIdResumesAfterThatEvent() throws Exception {
        gate.open();
        String id = QueueAndCancelTest.submit("resume", 3);
        awaitStatus(id, "succeeded");
        try (SseClient all = stream(id, Map.of())) {
            List<SseClient.Event> events = all.rest(WAIT);
            assertEquals("started", events.get(0).name());
            assertEquals("succeeded", events.get(events.size() - 1).name());
        }
        try (SseClient resumed = stream(id, Map.of("Last-Event-ID", "3"))) {
            List<SseClient.Event> events = resumed.rest(WAIT);
            assertTrue(events.stream().allMatch(e -> Long.parseLong(e.id()) > 3), events.toString());
            assertEquals("succeeded", events.get(events.size() - 1).name());
        }
        try (SseClient afterEnd = stream(id, Map.of("Last-Event-ID", "6"))) {
            assertSame(SseClient.END, afterEnd.nextEvent(WAIT), "nothing after the final event");
        }
    }

    @Test
    void heartbeatsKeepAnIdleStreamAliveAndCancelEndsIt() throws Exception {
        String id = QueueAndCancelTest.submit("cancel me", 5);
        awaitBlocked(id);
        try (SseClient sse = stream(id, Map.of())) {
            assertEquals("started", sse.nextEvent(WAIT).name());
            SseClient.Event beat = sse.next(WAIT); // the job holds: only heartbeats come
            assertTrue(beat.isComment(), beat.toString());
            assertEquals("heartbeat", beat.comment());

            given().delete("/v1/jobs/" + id).then().statusCode(202);
            List<SseClient.Event> rest = sse.rest(WAIT);
            SseClient.Event last = rest.get(rest.size() - 1);
            assertEquals("canceled", last.name());
            assertEquals("canceled", new JsonPath(last.data()).getString("status"));
            assertEquals("canceled", new JsonPath(last.data()).getString("error.type"));
        }
    }

    @Inject
    JobEvents events;

    @Test
    void aClientThatHangsUpEndsItsStreamsTasks() throws Exception {
        String id = QueueAndCancelTest.submit("hang up", 3);
        awaitBlocked(id);
        int before = events.openStreams();
        SseClient sse = stream(id, Map.of());
        assertEquals("started", sse.nextEvent(WAIT).name());
        assertEquals(before + 1, events.openStreams());
        sse.close();
        Await.until(() -> events.openStreams() == before, "the stream's tasks end once the client is gone");
        assertEquals("running", given().get("/v1/jobs/" + id).then().extract().path("status"),
                "hanging up a stream does not cancel the job");
    }

    @Test
    void unknownJobIs404ProblemJson() throws Exception {
        try (SseClient sse = stream("3f1c2a9e-8d7b-4c1a-9e0f-2b6d5a4c3e21", Map.of())) {
            assertEquals(404, sse.response.statusCode());
            assertTrue(sse.response.headers().firstValue("Content-Type").orElse("")
                    .startsWith(ApiTestSupport.PROBLEM), sse.response.headers().map().toString());
        }
        given().accept("text/event-stream").get("/v1/jobs/not-a-job/events").then().statusCode(404)
                .contentType(ApiTestSupport.PROBLEM);
        given().contentType(JSON).get("/v1/jobs/3f1c2a9e-8d7b-4c1a-9e0f-2b6d5a4c3e21/events").then().statusCode(404);
    }
}
