package dev.sdcfg.api;

import dev.sdcfg.jobs.JobService;
import dev.sdcfg.jobs.fake.Await;
import io.restassured.path.json.JsonPath;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

import javax.imageio.ImageIO;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertNotNull;

final class ApiTestSupport {
    private ApiTestSupport() {
    }

    static final String JSON = "application/json";
    static final String PROBLEM = "application/problem+json";

    static void awaitReady(JobService jobs) {
        Await.until(() -> jobs.state() == JobService.State.READY, "model ready");
    }

    /** Waits until the service is idle: nothing queued, nothing running. */
    static void awaitIdle(JobService jobs) {
        Await.until(() -> jobs.queueDepth() == 0 && jobs.runningJob().isEmpty(), "service idle");
    }

    /** Polls GET /v1/jobs/{id} until its status is one of {@code statuses}; returns that view. */
    static JsonPath awaitStatus(String id, String... statuses) {
        Set<String> want = Set.of(statuses);
        AtomicReference<JsonPath> last = new AtomicReference<>();
        Await.until(() -> {
            JsonPath j = given().get("/v1/jobs/" + id).then().statusCode(200).extract().jsonPath();
            last.set(j);
            return want.contains(j.getString("status"));
        }, "job " + id + " in " + want);
        return last.get();
    }

    static BufferedImage png(byte[] bytes) {
        try {
            BufferedImage img = ImageIO.read(new ByteArrayInputStream(bytes));
            assertNotNull(img, "not a decodable image");
            return img;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
