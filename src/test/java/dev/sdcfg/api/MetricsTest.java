package dev.sdcfg.api;

import dev.sdcfg.jobs.JobService;
import dev.sdcfg.jobs.MetricNames;
import io.quarkus.test.junit.QuarkusTest;
import jakarta.inject.Inject;
import org.junit.jupiter.api.Test;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static io.restassured.RestAssured.given;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The meters of {@link MetricNames} are exported at /q/metrics under their Prometheus names, with counts. */
@QuarkusTest
class MetricsTest {

    @Inject
    JobService jobs;

    /** Prometheus text → series (name plus labels, as written) → value. */
    static Map<String, Double> scrape() {
        String text = given().get("/q/metrics").then().statusCode(200).extract().asString();
        Map<String, Double> out = new HashMap<>();
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            int sp = line.lastIndexOf(' ');
            out.put(line.substring(0, sp).trim(), Double.parseDouble(line.substring(sp + 1)));
        }
        return out;
    }

    static double value(Map<String, Double> series, String name, String labels) {
        String key = labels == null ? name : name + "{" + labels + "}";
        Double v = series.get(key);
        if (v == null) {
            // label order/extra labels: find by prefix and label containment
            for (Map.Entry<String, Double> e : series.entrySet()) {
                if (e.getKey().startsWith(name + "{") && (labels == null || e.getKey().contains(labels))) {
                    return e.getValue();
                }
            }
            throw new AssertionError("no series " + key + " in /q/metrics");
        }
        return v;
    }

    @Test
    void metricsHaveCountsAfterAJob() {
        ApiTestSupport.awaitReady(jobs);
        given().contentType("application/json").body("{\"prompt\": \"metrics\", \"size\": \"64x64\", \"steps\": 3, \"n\": 2}")
                .post("/v1/images/generations").then().statusCode(200);
        ApiTestSupport.awaitIdle(jobs);
        Map<String, Double> m = scrape();

        assertTrue(value(m, MetricNames.PROM_JOBS, "status=\"succeeded\"") >= 1, "succeeded jobs counted");
        assertTrue(m.keySet().stream().anyMatch(k -> k.startsWith(MetricNames.PROM_JOBS + "{") && k.contains("status=\"rejected\"")),
                "rejected series is exported (zero until a 429)");
        assertTrue(value(m, MetricNames.PROM_IMAGES, null) >= 2, "images counted");
        for (String timer : List.of(MetricNames.PROM_DENOISE_STEP, MetricNames.PROM_TEXT_ENCODE,
                MetricNames.PROM_UNET_FORWARD, MetricNames.PROM_VAE_DECODE, MetricNames.PROM_QUEUE_WAIT,
                MetricNames.PROM_JOB_DURATION)) {
            assertTrue(value(m, timer + "_count", null) >= 1, timer + " has observations");
            assertTrue(value(m, timer + "_sum", null) > 0, timer + " has a positive sum");
            assertTrue(m.keySet().stream().anyMatch(k -> k.startsWith(timer + "_bucket{") && k.contains("le=\"+Inf\"")),
                    timer + " is a histogram with buckets");
        }
        assertTrue(value(m, MetricNames.PROM_DENOISE_STEP + "_count", null) >= 6, "one observation per step and image");
        assertEquals(16.0, value(m, MetricNames.PROM_QUEUE_CAPACITY, null));
        assertEquals(0.0, value(m, MetricNames.PROM_QUEUE_DEPTH, null));
        assertEquals(0.0, value(m, MetricNames.PROM_JOBS_RUNNING, null));
    }

    @Test
    void everyDocumentedPrometheusNameIsExported() throws ReflectiveOperationException {
        ApiTestSupport.awaitReady(jobs);
        Map<String, Double> m = scrape();
        for (java.lang.reflect.Field f : MetricNames.class.getFields()) {
            if (!f.getName().startsWith("PROM_")) {
                continue;
            }
            String prom = (String) f.get(null);
            assertTrue(m.keySet().stream().anyMatch(k -> k.equals(prom) || k.startsWith(prom + "{")
                    || k.startsWith(prom + "_")), prom + " (" + f.getName() + ") is not exported");
            // the Micrometer name maps to the Prometheus name
            String micrometer = (String) MetricNames.class.getField(f.getName().substring(5)).get(null);
            String expected = micrometer.replace('.', '_');
            assertTrue(prom.startsWith(expected), f.getName() + ": " + micrometer + " vs " + prom);
        }
    }
}
