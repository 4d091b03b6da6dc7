package dev.sdcfg.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static dev.sdcfg.deploy.DeployFiles.deployDir;
import static dev.sdcfg.deploy.DeployFiles.yaml;
import static dev.sdcfg.deploy.DeployFiles.yamlDocs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * deploy/components/redis-queue (Redis mode): a Redis that keeps the queue (AOF every second, never evicting), its
 * password from a Secret that is not in the repository, the service switched to Redis mode, and KEDA scaling on the
 * stream that the service's workers read.
 */
class RedisQueueComponentTest {

    static final Path DIR = deployDir().resolve("components/redis-queue");

    static List<JsonNode> docs() {
        List<JsonNode> out = new ArrayList<>();
        for (JsonNode r : yaml(DIR.resolve("kustomization.yaml")).path("resources")) {
            out.addAll(yamlDocs(DIR.resolve(r.asText())));
        }
        return out;
    }

    static JsonNode kind(String kind) {
        return docs().stream().filter(d -> kind.equals(d.path("kind").asText())).findFirst()
                .orElseThrow(() -> new AssertionError("no " + kind + " in the redis-queue component"));
    }

    @Test
    void redisKeepsTheQueueDurablyAndNeverEvictsIt() {
        String conf = kind("ConfigMap").path("data").path("redis.conf").asText();
        assertTrue(conf.contains("appendonly yes"), conf);
        assertTrue(conf.contains("appendfsync everysec"), conf);
        assertTrue(conf.contains("maxmemory-policy noeviction"), conf);
        JsonNode sts = kind("StatefulSet");
        assertEquals(1, sts.path("spec").path("replicas").asInt(), "one instance: the Lua scripts need one node");
        assertTrue(sts.path("spec").path("volumeClaimTemplates").size() == 1, "the AOF lives on a volume");
        JsonNode redis = sts.path("spec").path("template").path("spec").path("containers").get(0);
        assertTrue(redis.path("args").toString().contains("--requirepass"), redis.path("args").toString());
        assertEquals("sd-guidance-redis", secretOf(redis, "REDIS_PASSWORD"));
        assertTrue(kind("Service").path("spec").path("ports").get(0).path("port").asInt() == 6379);
    }

    @Test
    void theServiceIsSwitchedToRedisModeWithThePasswordFromTheSecret() {
        JsonNode patch = yaml(DIR.resolve("deployment-redis.yaml"));
        JsonNode c = patch.path("spec").path("template").path("spec").path("containers").get(0);
        assertEquals("sd-guidance", c.path("name").asText(), "patches the service's container");
        List<String> names = new ArrayList<>();
        String hosts = null;
        for (JsonNode e : c.path("env")) {
            names.add(e.path("name").asText());
            if ("QUARKUS_REDIS_HOSTS".equals(e.path("name").asText())) {
                hosts = e.path("value").asText();
            }
        }
        assertNotNull(hosts, "QUARKUS_REDIS_HOSTS turns Redis mode on");
        assertTrue(hosts.contains("$(REDIS_PASSWORD)@sd-guidance-redis:6379"), hosts);
        assertTrue(names.indexOf("REDIS_PASSWORD") < names.indexOf("QUARKUS_REDIS_HOSTS"),
                "Kubernetes expands $(VAR) only from variables declared earlier");
        assertEquals("sd-guidance-redis", secretOf(c, "REDIS_PASSWORD"));
        assertTrue(names.contains("SD_QUEUE_LEASE"));
    }

    @Test
    void kedaScalesOnTheStreamTheWorkersRead() {
        JsonNode patch = yaml(DIR.resolve("scaledobject-redis.yaml"));
        JsonNode triggers = patch.path("spec").path("triggers");
        assertEquals(1, triggers.size(), "replaces the per-pod sum with one global number");
        JsonNode t = triggers.get(0);
        assertEquals("redis-streams", t.path("type").asText());
        assertEquals("sd:queue", t.path("metadata").path("stream").asText(), "RedisJobQueue's stream (prefix sd:)");
        assertEquals("workers", t.path("metadata").path("consumerGroup").asText());
        assertTrue(Double.parseDouble(t.path("metadata").path("streamLength").asText()) > 0);
        assertEquals(kind("TriggerAuthentication").path("metadata").path("name").asText(),
                t.path("authenticationRef").path("name").asText());
    }

    private static String secretOf(JsonNode container, String env) {
        for (JsonNode e : container.path("env")) {
            if (env.equals(e.path("name").asText())) {
                return e.path("valueFrom").path("secretKeyRef").path("name").asText(null);
            }
        }
        return null;
    }
}
