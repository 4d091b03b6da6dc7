package dev.sdcfg.api;

import io.quarkus.test.junit.QuarkusTestProfile;

import java.util.Map;

/**
 * The gated fake generator (as {@link GatedQueueProfile}) with a short SSE heartbeat and poll interval, and webhooks
 * allowed to loopback receivers.
 */
public class EventsProfile implements QuarkusTestProfile {
    @Override
    public Map<String, String> getConfigOverrides() {
        return Map.of("sd.generator", "fake", "sd.queue.capacity", "2", "sd.sync.timeout", "300ms",
                "sd.events.heartbeat", "150ms", "sd.events.poll-interval", "20ms",
                "sd.webhooks.allow-private", "true", "sd.webhooks.secret", EventsProfile.SECRET,
                "sd.webhooks.backoff", "50ms");
    }

    static final String SECRET = "whsec_dGVzdC1zZWNyZXQtMDEyMzQ1Njc4OQ==";
}
