package dev.sdcfg.api;

import com.sun.net.httpserver.HttpServer;
import dev.sdcfg.jobs.JobService;
import dev.sdcfg.jobs.fake.Await;
import dev.sdcfg.jobs.fake.FakeGeneratorProvider;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.test.junit.QuarkusTest;
import io.quarkus.test.junit.TestProfile;
import io.restassured.path.json.JsonPath;
import jakarta.inject.Inject;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

import static dev.sdcfg.api.ApiTestSupport.JSON;
import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Webhook delivery to a receiver on a loopback port (the profile allows private addresses): Standard Webhooks
 * signature verified here with the shared secret, a retry after a 500, and the events asked for.
 */
@QuarkusTest
@TestProfile(EventsProfile.class)
class WebhooksTest {

    record Received(String id, String timestamp, String signature, String event, String body, int answered) {
    }

    @Inject
    JobService jobs;

    @Inject
    FakeGeneratorProvider fake;

    @Inject
    MeterRegistry registry;

    HttpServer server;
    final List<Received> received = new CopyOnWriteArrayList<>();
    final AtomicInteger failFirst = new AtomicInteger();

    @BeforeEach
    void setUp() throws Exception {
        ApiTestSupport.awaitReady(jobs);
        fake.gate().open();
        ApiTestSupport.awaitIdle(jobs);
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/hook", ex -> {
            byte[] body = ex.getRequestBody().readAllBytes();
            int status = failFirst.getAndDecrement() > 0 ? 500 : 204;
            var h = ex.getRequestHeaders();
            received.add(new Received(h.getFirst("Webhook-Id"), h.getFirst("Webhook-Timestamp"),
                    h.getFirst("Webhook-Signature"), h.getFirst("Webhook-Event"),
                    new String(body, StandardCharsets.UTF_8), status));
            ex.sendResponseHeaders(status, -1);
            ex.close();
        });
        server.start();
    }

    @AfterEach
    void tearDown() {
        server.stop(0);
    }

    String hookUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/hook";
    }

    String submit(String events) {
        return given().contentType(JSON).body("{\"prompt\": \"hooked\", \"size\": \"64x64\", \"steps\": 2, "
                        + "\"webhook\": \"" + hookUrl() + "\"" + (events == null ? "" : ", \"webhook_events\": " + events)
                        + "}")
                .post("/v1/jobs").then().statusCode(202).extract().path("id");
    }

    /** Standard Webhooks: v1,base64(HMAC-SHA256(base64-decoded secret after "whsec_", id.timestamp.body)). */
    static void assertSigned(Received r) throws Exception {
        assertNotNull(r.id());
        assertNotNull(r.timestamp());
        assertNotNull(r.signature(), "no Webhook-Signature");
        Mac mac = Mac.getInstance("HmacSHA256");
        byte[] key = Base64.getDecoder().decode(EventsProfile.SECRET.substring("whsec_".length()));
        mac.init(new SecretKeySpec(key, "HmacSHA256"));
        String expected = "v1," + Base64.getEncoder().encodeToString(
                mac.doFinal((r.id() + "." + r.timestamp() + "." + r.body()).getBytes(StandardCharsets.UTF_8)));
        assertEquals(expected, r.signature());
        long ts = Long.parseLong(r.timestamp());
        assertTrue(Math.abs(System.currentTimeMillis() / 1000 - ts) < 600, "timestamp in seconds: " + ts);
    }

    double deliveries(String outcome) {
        var c = registry.find("sd.webhook.deliveries").tag("outcome", outcome).counter();
        return c == null ? 0 : c.count();
    }

    @Test
    void completedIsSignedAndSurvivesOne500() throws Exception {
        double retriedBefore = deliveries("retried");
        double deliveredBefore = deliveries("delivered");
        failFirst.set(1);
        String id = submit(null); // default: completed only
        Await.until(() -> received.stream().anyMatch(r -> r.answered() == 204), "a delivery accepted");
        assertEquals(2, received.size(), received.toString());
        Received first = received.get(0);
        Received retry = received.get(1);
        assertEquals(500, first.answered());
        assertEquals(first.id(), retry.id(), "a retry keeps its Webhook-Id");
        assertEquals(first.body(), retry.body());
        for (Received r : received) {
            assertSigned(r);
            assertEquals("completed", r.event());
        }
        JsonPath view = new JsonPath(retry.body());
        assertEquals(id, view.getString("id"));
        assertEquals("succeeded", view.getString("status"));
        assertEquals("/v1/jobs/" + id + "/images/0", view.getString("images[0].url"));
        assertEquals(retriedBefore + 1, deliveries("retried"));
        Await.until(() -> deliveries("delivered") == deliveredBefore + 1, "delivery counted");
    }

    /** A job's deliveries go in event order: a retried started holds completed back until it got through. */
    @Test
    void aJobsWebhooksArriveInEventOrderEvenAcrossRetries() throws Exception {
        failFirst.set(1); // the first call (started) fails once and is retried after sd.webhooks.backoff (50 ms)
        submit("[\"started\", \"completed\"]");
        Await.until(() -> received.stream().filter(r -> r.answered() == 204).count() == 2, "both delivered");
        assertEquals(List.of("started:500", "started:204", "completed:204"),
                received.stream().map(r -> r.event() + ":" + r.answered()).toList());
    }

    @Test
    void startedAndCompletedAreSentWhenAskedFor() throws Exception {
        String id = submit("[\"started\", \"completed\"]");
        // wait for both (a missing one times out)
        Await.until(() -> received.stream().anyMatch(r -> "completed".equals(r.event()))
                && received.stream().anyMatch(r -> "started".equals(r.event())), "started and completed delivered");
        Map<String, Received> byEvent = new java.util.HashMap<>();
        for (Received r : received) {
            assertSigned(r);
            byEvent.put(r.event(), r);
        }
        assertEquals(java.util.Set.of("started", "completed"), byEvent.keySet(), received.toString());
        assertEquals(id, new JsonPath(byEvent.get("started").body()).getString("id"));
        assertTrue(List.of("running", "succeeded").contains(
                new JsonPath(byEvent.get("started").body()).getString("status")));
        assertEquals("succeeded", new JsonPath(byEvent.get("completed").body()).getString("status"));
    }

    @Inject
    Webhooks webhooks;

    @Test
    void aRepeatedIdempotencyKeyWatchesItsJobOnce() throws Exception {
        fake.gate().close();
        String body = "{\"prompt\": \"once\", \"size\": \"64x64\", \"steps\": 2, \"webhook\": \"" + hookUrl() + "\"}";
        String id;
        try {
            id = given().contentType(JSON).header("Idempotency-Key", "hook-once-1").body(body).post("/v1/jobs")
                    .then().statusCode(202).extract().path("id");
            String again = given().contentType(JSON).header("Idempotency-Key", "hook-once-1").body(body)
                    .post("/v1/jobs").then().statusCode(202).extract().path("id");
            assertEquals(id, again);
        } finally {
            fake.gate().open();
        }
        Await.until(() -> received.stream().anyMatch(r -> "completed".equals(r.event())), "completed delivered");
        Await.until(webhooks::idle, "watchers and sender idle");
        assertEquals(1, received.size(), received.toString());
        assertEquals(id, new JsonPath(received.get(0).body()).getString("id"));
        assertSigned(received.get(0));
    }

    @Test
    void schemeIsCheckedEvenWhenPrivateAddressesAreAllowed() {
        given().contentType(JSON).body("{\"prompt\": \"x\", \"webhook\": \"file:///etc/passwd\"}").post("/v1/jobs")
                .then().statusCode(422).contentType(ApiTestSupport.PROBLEM).body("errors[0].field",
                        org.hamcrest.Matchers.equalTo("webhook"));
    }
}
