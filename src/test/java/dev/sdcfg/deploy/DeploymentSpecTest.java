package dev.sdcfg.deploy;

import static dev.sdcfg.deploy.DeployFiles.container;
import static dev.sdcfg.deploy.DeployFiles.containerEnv;
import static dev.sdcfg.deploy.DeployFiles.resource;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.TextNode;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

/**
 * The Deployment, Service, ServiceMonitor and ScaledObject agree with the application: probe paths and ports
 * come from application.properties (Quarkus defaults otherwise), the grace period covers the shutdown timeout,
 * the GPU is requested, the model volume is read-only, the pod runs as non-root.
 */
class DeploymentSpecTest {

    final DeployFiles.AppConfig app = new DeployFiles.AppConfig();
    final JsonNode deployment = resource("Deployment");
    final JsonNode podSpec = deployment.path("spec").path("template").path("spec");
    final JsonNode container = container();

    /** A probe/Service port, either a number or the name of a container port, as a number. */
    int containerPort(JsonNode port) {
        if (port.isInt()) {
            return port.asInt();
        }
        for (JsonNode p : container.path("ports")) {
            if (p.path("name").asText().equals(port.asText())) {
                return p.path("containerPort").asInt();
            }
        }
        throw new AssertionError("no container port named " + port.asText());
    }

    @Test
    void probesHitTheHealthEndpointsOnTheAppPort() {
        JsonNode startup = container.path("startupProbe").path("httpGet");
        JsonNode readiness = container.path("readinessProbe").path("httpGet");
        JsonNode liveness = container.path("livenessProbe").path("httpGet");
        assertEquals(app.readinessPath(), readiness.path("path").asText(), "readiness path");
        assertEquals(app.livenessPath(), liveness.path("path").asText(), "liveness path");
        assertTrue(List.of(app.startupPath(), app.readinessPath()).contains(startup.path("path").asText()),
                "startup probe on " + app.startupPath() + " or " + app.readinessPath() + ", is "
                        + startup.path("path").asText());
        for (JsonNode probe : List.of(startup, readiness, liveness)) {
            assertEquals(app.opsPort(), containerPort(probe.path("port")), "probe port " + probe);
        }
        assertEquals(app.httpPort(), containerPort(TextNode.valueOf("http")), "container port named http");
    }

    @Test
    void startupProbeAllowsAtLeastTenMinutesForTheModelLoad() {
        JsonNode s = container.path("startupProbe");
        int period = s.path("periodSeconds").asInt(10);
        int failures = s.path("failureThreshold").asInt(3);
        assertTrue(period * failures >= 600, "startup budget " + period + " s x " + failures + " < 10 min");
        // Liveness must not kill a pod that is merely busy: it gets at least a minute of failures.
        JsonNode l = container.path("livenessProbe");
        assertTrue(l.path("periodSeconds").asInt(10) * l.path("failureThreshold").asInt(3) >= 60,
                "liveness tolerance");
    }

    @Test
    void gracePeriodCoversPreStopAndShutdownTimeout() {
        String timeout = containerEnv("QUARKUS_SHUTDOWN_TIMEOUT");
        assertNotNull(timeout, "the container sets QUARKUS_SHUTDOWN_TIMEOUT (graceful shutdown is off by default)");
        double shutdown = DeployFiles.durationSeconds(timeout);
        assertTrue(shutdown > 0, "shutdown timeout");
        JsonNode cmd = container.path("lifecycle").path("preStop").path("exec").path("command");
        assertTrue(cmd.size() == 2 && cmd.get(0).asText().equals("sleep"), "preStop is a sleep: " + cmd);
        double preStop = Double.parseDouble(cmd.get(1).asText());
        assertTrue(preStop >= 5, "preStop sleep lets endpoint removal propagate");
        int grace = podSpec.path("terminationGracePeriodSeconds").asInt(30);
        assertTrue(grace > preStop + shutdown, "terminationGracePeriodSeconds " + grace + " <= preStop " + preStop
                + " + QUARKUS_SHUTDOWN_TIMEOUT " + shutdown);
    }

    @Test
    void requestsOneGpuAndToleratesGpuTaints() {
        JsonNode limits = container.path("resources").path("limits");
        assertEquals(1, limits.path("nvidia.com/gpu").asInt(), "limits nvidia.com/gpu");
        assertTrue(limits.has("memory"), "memory limit");
        JsonNode requests = container.path("resources").path("requests");
        assertTrue(requests.has("memory") && requests.has("cpu"), "cpu and memory requests");
        boolean tolerated = false;
        for (JsonNode t : podSpec.path("tolerations")) {
            tolerated |= t.path("key").asText().equals("nvidia.com/gpu")
                    && (t.path("operator").asText().equals("Exists") || t.has("value"));
        }
        assertTrue(tolerated, "toleration for nvidia.com/gpu");
        assertEquals("gpu", containerEnv("SD_DEVICE"), "the GPU deployment must not fall back to the CPU");
    }

    @Test
    void modelComesFromAReadOnlyClaim() {
        String modelPath = containerEnv("SD_MODEL_PATH");
        assertNotNull(modelPath, "SD_MODEL_PATH");
        String pvcVolume = null;
        for (JsonNode v : podSpec.path("volumes")) {
            if (v.has("persistentVolumeClaim")) {
                pvcVolume = v.path("name").asText();
                assertTrue(v.path("persistentVolumeClaim").path("readOnly").asBoolean(), "PVC volume readOnly");
            }
        }
        assertNotNull(pvcVolume, "a PVC volume");
        boolean covered = false;
        for (JsonNode m : container.path("volumeMounts")) {
            if (m.path("name").asText().equals(pvcVolume)) {
                assertTrue(m.path("readOnly").asBoolean(), "model mount readOnly");
                String mount = m.path("mountPath").asText();
                covered |= modelPath.equals(mount) || modelPath.startsWith(mount.endsWith("/") ? mount : mount + "/");
            }
        }
        assertTrue(covered, "SD_MODEL_PATH " + modelPath + " lies on the read-only model mount");
    }

    @Test
    void runsAsNonRootWithWritableScratchOnly() {
        JsonNode pod = podSpec.path("securityContext");
        JsonNode sc = container.path("securityContext");
        assertTrue(pod.path("runAsNonRoot").asBoolean() || sc.path("runAsNonRoot").asBoolean(), "runAsNonRoot");
        int uid = sc.has("runAsUser") ? sc.path("runAsUser").asInt() : pod.path("runAsUser").asInt(0);
        assertTrue(uid > 0, "runAsUser");
        assertEquals(Integer.toString(uid), DockerfileTest.imageUid(DockerfileTest.cuda()),
                "runAsUser matches the image's USER (file ownership of /app and the DJL cache)");
        assertTrue(!sc.path("allowPrivilegeEscalation").asBoolean(true), "allowPrivilegeEscalation false");
        if (sc.path("readOnlyRootFilesystem").asBoolean()) {
            // Then every folder the runtime writes needs a volume: the DJL cache and the temp dir.
            String cacheDir = DockerfileTest.cuda().finalStage().env().get("DJL_CACHE_DIR");
            assertNotNull(cacheDir, "Dockerfile.cuda sets DJL_CACHE_DIR");
            List<String> writable = new ArrayList<>();
            for (JsonNode m : container.path("volumeMounts")) {
                if (!m.path("readOnly").asBoolean()) {
                    writable.add(m.path("mountPath").asText());
                }
            }
            assertTrue(writable.contains(cacheDir), "writable mount at DJL_CACHE_DIR " + cacheDir + ": " + writable);
            assertTrue(writable.contains("/tmp"), "writable /tmp (java.io.tmpdir, JNA, Vert.x): " + writable);
        }
    }

    @Test
    void serviceAndServiceMonitorExposeTheMetrics() {
        JsonNode svcPort = null;
        for (JsonNode p : resource("Service").path("spec").path("ports")) {
            if (p.path("name").asText().equals("http")) {
                svcPort = p;
            }
        }
        assertNotNull(svcPort, "Service port named http");
        assertEquals(app.httpPort(), svcPort.path("port").asInt(), "Service port");
        assertEquals(app.httpPort(), containerPort(svcPort.path("targetPort")), "Service targetPort");

        JsonNode endpoints = resource("ServiceMonitor").path("spec").path("endpoints");
        assertEquals(1, endpoints.size(), "one ServiceMonitor endpoint");
        JsonNode ep = endpoints.get(0);
        assertEquals(app.metricsPath(), ep.path("path").asText(), "metrics path");
        boolean portKnown = false;
        for (JsonNode p : resource("Service").path("spec").path("ports")) {
            if (p.path("name").asText().equals(ep.path("port").asText())) {
                portKnown = true;
                assertEquals(app.opsPort(), containerPort(p.path("targetPort")), "metrics are served on the ops port");
            }
        }
        assertTrue(portKnown, "ServiceMonitor port " + ep.path("port").asText() + " is a named Service port");
    }

    @Test
    void kedaScalesOnQueuedPlusRunningJobsPerReplica() {
        JsonNode spec = resource("ScaledObject").path("spec");
        assertTrue(spec.path("minReplicaCount").asInt(0) >= 1, "keep one warm replica (model load takes minutes)");
        assertTrue(spec.path("maxReplicaCount").asInt() >= spec.path("minReplicaCount").asInt(),
                "maxReplicaCount >= minReplicaCount");
        JsonNode triggers = spec.path("triggers");
        assertEquals(1, triggers.size(), "one trigger");
        JsonNode t = triggers.get(0);
        assertEquals("prometheus", t.path("type").asText());
        // AverageValue (KEDA's default) divides the total by the replica count: "per replica".
        assertEquals("AverageValue", t.path("metricType").asText("AverageValue"), "metricType");
        String query = t.path("metadata").path("query").asText();
        String compact = query.replaceAll("\\s+", "");
        assertTrue(compact.matches(".*sum\\(sd_queue_depth[{)].*"), "sum(sd_queue_depth...) in " + query);
        assertTrue(compact.matches(".*sum\\(sd_jobs_running[{)].*"), "sum(sd_jobs_running...) in " + query);
        assertTrue(compact.contains("+"), "queued + running: " + query);
        assertTrue(t.path("metadata").path("threshold").isTextual(), "KEDA wants the threshold as a string");
        assertTrue(Double.parseDouble(t.path("metadata").path("threshold").asText()) > 0, "threshold > 0");
        assertTrue(t.path("metadata").path("serverAddress").asText().startsWith("http"), "serverAddress");
    }
}
