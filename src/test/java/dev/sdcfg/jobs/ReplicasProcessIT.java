package dev.sdcfg.jobs;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sdcfg.api.SseClient;
import dev.sdcfg.testutil.TestRedis;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;

import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Three packaged replicas ({@code target/quarkus-app/quarkus-run.jar}, the real service on the embedded demo model)
 * on one real Redis, driven over HTTP only: an event stream on one replica following a job another runs (progress,
 * a preview, completion), a replica SIGKILLed mid-job (the job succeeds on another with attempt 2
 * and a third serves its image), a cancel sent to a replica that does not run the job, a flood through two
 * replicas against one global capacity, every replica killed while jobs wait (a new one runs them), and Redis going
 * away (503 problem+json, the process stays up and recovers).
 *
 * <p>Needs the packaged application: CI runs {@code ./mvnw -B -DskipTests package} before {@code ./mvnw -B verify}
 * (see .ci/run); without the jar the test is skipped, not failed.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class ReplicasProcessIT {

    static final Path JAR = Path.of("target/quarkus-app/quarkus-run.jar");
    static final ObjectMapper JSON = new ObjectMapper();
    static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    /** Long enough to catch the job mid-run on a loaded CI machine, short enough to run twice. */
    static final String LONG_JOB = "{\"prompt\": \"a lighthouse\", \"size\": \"64x64\", \"steps\": 12, \"seed\": 4242}";
    static final String PREVIEW_JOB = "{\"prompt\": \"a harbour\", \"size\": \"64x64\", \"steps\": 12, \"seed\": 99, "
            + "\"preview_every\": 3}";
    static final String SHORT_JOB = "{\"prompt\": \"a boat\", \"size\": \"64x64\", \"steps\": 2, \"seed\": 7}";

    static TestRedis redis;
    static final Map<String, Replica> replicas = new LinkedHashMap<>();

    record Replica(String name, int port, Process process) {
        String url(String path) {
            return "http://127.0.0.1:" + port + path;
        }
    }

    @BeforeAll
    static void startAll() throws Exception {
        // run by failsafe in `verify`, after the package phase built this jar
        assertTrue(Files.isRegularFile(JAR), "packaged application missing: run it with ./mvnw -B verify");
        redis = new TestRedis();
        for (String name : List.of("r1", "r2", "r3")) {
            replicas.put(name, launch(name));
        }
        for (Replica r : replicas.values()) {
            awaitReady(r);
        }
    }

    @AfterAll
    static void stopAll() {
        for (Replica r : replicas.values()) {
            r.process().destroyForcibly();
        }
        if (redis != null) {
            redis.close();
        }
    }

    static Replica launch(String name) throws IOException {
        int port = freePort();
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = List.of(java, "-Xmx1g", "-Dquarkus.http.port=" + port,
                "-Dquarkus.redis.hosts=" + redis.url(), "-Dsd.queue.worker-name=" + name, "-Dsd.queue.lease=3s",
                "-Dsd.queue.heartbeat=200ms", "-Dsd.queue.capacity=3", "-Dquarkus.shutdown.timeout=5s",
                "-Dquarkus.log.level=WARN", "-jar", JAR.toString());
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("DJL_OFFLINE", "true");
        pb.environment().put("RUST_FLAVOR", "cpu");
        File log = new File("target/replica-" + name + ".log");
        pb.redirectErrorStream(true).redirectOutput(log);
        return new Replica(name, port, pb.start());
    }

    static int freePort() throws IOException {
        try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static void awaitReady(Replica r) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
        while (System.nanoTime() < deadline) {
            assertTrue(r.process().isAlive(), r.name() + " exited; see target/replica-" + r.name() + ".log");
            try {
                if (get(r, "/q/health/ready").statusCode() == 200) {
                    return;
                }
            } catch (IOException e) {
                // not listening yet
            }
            Thread.sleep(500);
        }
        fail(r.name() + " not ready after 5 minutes");
    }

    static HttpResponse<byte[]> get(Replica r, String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(r.url(path))).timeout(Duration.ofSeconds(20)).GET().build(),
                HttpResponse.BodyHandlers.ofByteArray());
    }

    static HttpResponse<byte[]> post(Replica r, String path, String body) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(r.url(path))).timeout(Duration.ofSeconds(20))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
                HttpResponse.BodyHandlers.ofByteArray());
    }

    static HttpResponse<byte[]> delete(Replica r, String path) throws IOException, InterruptedException {
        return HTTP.send(HttpRequest.newBuilder(URI.create(r.url(path))).timeout(Duration.ofSeconds(20)).DELETE().build(),
                HttpResponse.BodyHandlers.ofByteArray());
    }

    static JsonNode json(HttpResponse<byte[]> r) throws IOException {
        return JSON.readTree(r.body());
    }

    static String submit(Replica r, String body) throws Exception {
        HttpResponse<byte[]> res = post(r, "/v1/jobs", body);
        assertEquals(202, res.statusCode(), new String(res.body()));
        return json(res).get("id").asText();
    }

    static JsonNode awaitJob(Replica r, String id, Predicate<JsonNode> until, String what) throws Exception {
        long deadline = System.nanoTime() + Duration.ofMinutes(5).toNanos();
        JsonNode last = null;
        while (System.nanoTime() < deadline) {
            HttpResponse<byte[]> res = get(r, "/v1/jobs/" + id);
            if (res.statusCode() == 200) {
                last = json(res);
                if (until.test(last)) {
                    return last;
                }
            }
            Thread.sleep(100);
        }
        fail("job " + id + " never " + what + " (last seen from " + r.name() + ": " + last + ")");
        return null;
    }

    static boolean isFinal(JsonNode j) {
        String s = j.get("status").asText();
        return s.equals("succeeded") || s.equals("failed") || s.equals("canceled");
    }

    List<Replica> alive() {
        List<Replica> out = new ArrayList<>();
        for (Replica r : replicas.values()) {
            if (r.process().isAlive()) {
                out.add(r);
            }
        }
        return out;
    }

    /**
     * Issue 14's "done when": a client connected to replica B sees progress, a preview and the completion of a job
     * that replica A runs (B reads the job hash and the preview key A writes at its heartbeats and at completion).
     */
    @Test
    @Order(0)
    void aStreamOnAnotherReplicaSeesProgressAPreviewAndCompletion() throws Exception {
        String id = submit(replicas.get("r1"), PREVIEW_JOB);
        JsonNode running = awaitJob(replicas.get("r1"), id, j -> !j.get("status").asText().equals("queued"),
                "started");
        String owner = running.get("worker").asText();
        Replica b = replicas.values().stream().filter(r -> !r.name().equals(owner)).findFirst().orElseThrow();
        List<SseClient.Event> events;
        try (SseClient sse = SseClient.open(URI.create(b.url("/v1/jobs/" + id + "/events")), Map.of())) {
            assertEquals(200, sse.response.statusCode());
            events = sse.rest(Duration.ofMinutes(2));
        }
        List<String> names = events.stream().map(SseClient.Event::name).toList();
        assertTrue(names.contains("progress"), names.toString());
        SseClient.Event last = events.get(events.size() - 1);
        assertEquals("succeeded", last.name(), names.toString());
        JsonNode done = JSON.readTree(last.data());
        assertEquals(owner, done.get("worker").asText());
        assertNotEquals(b.name(), owner, "the stream was served by a replica that did not run the job");
        SseClient.Event preview = events.stream().filter(e -> e.name().equals("preview")).reduce((x, y) -> y)
                .orElseThrow(() -> new AssertionError("no preview event: " + names));
        JsonNode p = JSON.readTree(preview.data());
        assertEquals(0, p.get("step").asInt() % 3, "previews after every 3rd step: " + p.get("step"));
        assertTrue(p.get("step").asInt() < 12, "none after the last step");
        java.awt.image.BufferedImage img = dev.sdcfg.pipeline.image.PngEncoder.decode(
                java.util.Base64.getDecoder().decode(p.get("png_base64").asText()));
        // the embedded demo model's VAE downscales by 4: a 64x64 image has 16x16 latents, and so a 16x16 preview
        assertEquals(16, img.getWidth(), "64x64 image: a 16x16 latent-sized preview");
        assertEquals(16, img.getHeight());
    }

    @Test
    @Order(1)
    void aReplicaKilledMidJobLosesNothing() throws Exception {
        String id = submit(replicas.get("r1"), LONG_JOB);
        JsonNode running = awaitJob(replicas.get("r3"), id,
                j -> j.get("status").asText().equals("running") && j.get("progress").get("step").asInt() >= 1,
                "ran a step");
        Replica victim = replicas.get(running.get("worker").asText());
        victim.process().destroyForcibly(); // SIGKILL: no shutdown hook, no hand-back
        victim.process().waitFor();
        List<Replica> left = alive();
        JsonNode done = awaitJob(left.get(0), id, ReplicasProcessIT::isFinal, "finished");
        assertEquals("succeeded", done.get("status").asText(), done.toString());
        assertEquals(2, done.get("attempt").asInt(), "taken over after the lease lapsed");
        assertNotEquals(victim.name(), done.get("worker").asText());
        assertEquals(4242, done.get("seeds").get(0).asLong(), "the seed fixed at submission");
        Replica third = left.stream().filter(r -> !r.name().equals(done.get("worker").asText())).findFirst()
                .orElseThrow();
        HttpResponse<byte[]> png = get(third, "/v1/jobs/" + id + "/images/0");
        assertEquals(200, png.statusCode());
        assertEquals("image/png", png.headers().firstValue("Content-Type").orElse(""));
        assertTrue(png.body().length > 100);
    }

    @Test
    @Order(2)
    void aCancelSentToAnyReplicaStopsTheJobWhereItRuns() throws Exception {
        List<Replica> left = alive();
        String id = submit(left.get(0), LONG_JOB);
        JsonNode running = awaitJob(left.get(0), id, j -> j.get("status").asText().equals("running"), "started");
        String owner = running.get("worker").asText();
        Replica other = left.stream().filter(r -> !r.name().equals(owner)).findFirst().orElseThrow();
        HttpResponse<byte[]> res = delete(other, "/v1/jobs/" + id);
        assertEquals(202, res.statusCode(), new String(res.body()));
        JsonNode done = awaitJob(other, id, ReplicasProcessIT::isFinal, "ended");
        assertEquals("canceled", done.get("status").asText(), done.toString());
        assertTrue(done.get("progress").get("step").asInt() < done.get("progress").get("total").asInt(),
                "stopped before the last step: " + done.get("progress"));
    }

    @Test
    @Order(3)
    void twoReplicasShareOneCapacity() throws Exception {
        List<Replica> left = alive();
        assertEquals(2, left.size());
        List<String> ids = new ArrayList<>();
        // both workers busy, so everything after waits in the queue
        ids.add(submit(left.get(0), LONG_JOB));
        ids.add(submit(left.get(1), LONG_JOB));
        for (String id : ids) {
            awaitJob(left.get(0), id, j -> !j.get("status").asText().equals("queued"), "started");
        }
        int accepted = 0;
        HttpResponse<byte[]> refused = null;
        for (int i = 0; i < 8 && refused == null; i++) {
            HttpResponse<byte[]> res = post(left.get(i % 2), "/v1/jobs", SHORT_JOB);
            if (res.statusCode() == 202) {
                accepted++;
                ids.add(json(res).get("id").asText());
            } else {
                refused = res;
            }
        }
        assertEquals(3, accepted, "sd.queue.capacity=3 holds for both replicas together");
        assertEquals(429, refused.statusCode());
        assertTrue(refused.headers().firstValue("Retry-After").isPresent());
        assertEquals("application/problem+json", refused.headers().firstValue("Content-Type").orElse(""));
        for (String id : ids) {
            delete(left.get(0), "/v1/jobs/" + id);
        }
        for (String id : ids) {
            awaitJob(left.get(1), id, ReplicasProcessIT::isFinal, "ended");
        }
    }

    @Test
    @Order(4)
    void jobsWaitingWhenEveryReplicaDiesRunOnTheNextOne() throws Exception {
        List<Replica> left = alive();
        String first = submit(left.get(0), LONG_JOB);
        String second = submit(left.get(1), SHORT_JOB);
        String third = submit(left.get(0), SHORT_JOB);
        for (Replica r : left) {
            r.process().destroyForcibly();
            r.process().waitFor();
        }
        Replica fresh = launch("r4");
        replicas.put("r4", fresh);
        awaitReady(fresh);
        for (String id : List.of(first, second, third)) {
            JsonNode done = awaitJob(fresh, id, ReplicasProcessIT::isFinal, "finished on r4");
            assertEquals("succeeded", done.get("status").asText(), done.toString());
            assertEquals("r4", done.get("worker").asText());
        }
    }

    @Test
    @Order(5)
    void redisDownIsA503AndTheReplicaRecovers() throws Exception {
        Replica r = replicas.get("r4");
        redis.stop();
        try {
            HttpResponse<byte[]> res = post(r, "/v1/jobs", SHORT_JOB);
            assertEquals(503, res.statusCode(), new String(res.body()));
            assertEquals("application/problem+json", res.headers().firstValue("Content-Type").orElse(""));
            assertTrue(json(res).get("detail").asText().contains("Redis"), new String(res.body()));
            assertEquals(503, get(r, "/v1/jobs/00000000-0000-0000-0000-000000000000").statusCode(),
                    "reads say the store is away, not that the job is unknown");
            assertTrue(r.process().isAlive());
        } finally {
            redis.start();
        }
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        int status = 0;
        while (System.nanoTime() < deadline && status != 202) {
            status = post(r, "/v1/jobs", SHORT_JOB).statusCode();
            Thread.sleep(200);
        }
        assertEquals(202, status, "accepts jobs again once Redis is back");
    }
}
