package dev.sdcfg.api;

import dev.sdcfg.testutil.TestRedis;
import io.quarkus.test.common.QuarkusTestResourceLifecycleManager;
import io.quarkus.test.junit.QuarkusTestProfile;

import java.util.List;
import java.util.Map;

/**
 * The service in Redis mode (a real redis-server started for the test) with API keys on, on the fake generator.
 * {@link RedisResource#redis} lets a test look into the store.
 */
public class RedisModeProfile implements QuarkusTestProfile {

    static final String KEY_A = "key-alpha-0123456789";
    static final String KEY_B = "key-bravo-9876543210";

    @Override
    public Map<String, String> getConfigOverrides() {
        return Map.of("sd.generator", "fake", "sd.auth.api-keys", KEY_A + "," + KEY_B, "sd.queue.heartbeat", "50ms");
    }

    @Override
    public List<TestResourceEntry> testResources() {
        return List.of(new TestResourceEntry(RedisResource.class));
    }

    /** Starts the server before the application and points quarkus.redis.hosts at it (this is what turns Redis mode on). */
    public static class RedisResource implements QuarkusTestResourceLifecycleManager {
        static volatile TestRedis redis;

        @Override
        public Map<String, String> start() {
            redis = new TestRedis();
            return Map.of("quarkus.redis.hosts", redis.url());
        }

        @Override
        public void stop() {
            if (redis != null) {
                redis.close();
            }
        }
    }
}
