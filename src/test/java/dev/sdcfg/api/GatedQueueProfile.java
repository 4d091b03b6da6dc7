package dev.sdcfg.api;

import io.quarkus.test.junit.QuarkusTestProfile;

import java.util.Map;

/** A queue of two and a short synchronous wait; tests hold jobs with the fake's gate (always the fake generator). */
public class GatedQueueProfile implements QuarkusTestProfile {
    @Override
    public Map<String, String> getConfigOverrides() {
        return Map.of("sd.generator", "fake", "sd.queue.capacity", "2", "sd.sync.timeout", "300ms",
                "sd.queue.retry-after", "7s");
    }
}
