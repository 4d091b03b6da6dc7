package dev.sdcfg.api;

import io.quarkus.test.junit.QuarkusTestProfile;

import java.util.Map;

/** The fake's model load blocks until the test releases it, then fails. */
public class LoadFailureProfile implements QuarkusTestProfile {
    @Override
    public Map<String, String> getConfigOverrides() {
        return Map.of("sd.generator", "fake", "fake.load", "block-then-fail", "sd.model.loading-retry-after", "3s");
    }
}
