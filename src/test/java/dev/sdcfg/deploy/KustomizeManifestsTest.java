package dev.sdcfg.deploy;

import static dev.sdcfg.deploy.DeployFiles.deployDir;
import static dev.sdcfg.deploy.DeployFiles.resource;
import static dev.sdcfg.deploy.DeployFiles.root;
import static dev.sdcfg.deploy.DeployFiles.yaml;
import static dev.sdcfg.deploy.DeployFiles.yamlDocs;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** The Kustomize base in deploy/: every YAML parses, kinds and API versions are known, references resolve. */
class KustomizeManifestsTest {

    /** kind -> the apiVersion this project writes it with. */
    static final Map<String, String> API_VERSIONS = Map.ofEntries(
            Map.entry("Kustomization", "kustomize.config.k8s.io/v1beta1"),
            Map.entry("Component", "kustomize.config.k8s.io/v1alpha1"),
            Map.entry("Namespace", "v1"),
            Map.entry("PersistentVolumeClaim", "v1"),
            Map.entry("Service", "v1"),
            Map.entry("ConfigMap", "v1"),
            Map.entry("Deployment", "apps/v1"),
            Map.entry("StatefulSet", "apps/v1"),
            Map.entry("ServiceMonitor", "monitoring.coreos.com/v1"),
            Map.entry("ScaledObject", "keda.sh/v1alpha1"),
            Map.entry("TriggerAuthentication", "keda.sh/v1alpha1"));

    @Test
    void everyYamlParsesWithKnownKindAndApiVersion() {
        List<Path> files = DeployFiles.deployFiles(".yaml", ".yml");
        assertTrue(files.size() >= 7, "expected the kustomization and its resources under deploy/, found " + files);
        for (Path f : files) {
            List<JsonNode> docs = yamlDocs(f);
            assertFalse(docs.isEmpty(), root().relativize(f) + " has no YAML document");
            for (JsonNode d : docs) {
                String where = root().relativize(f) + " (" + d.path("kind").asText("?") + ")";
                assertTrue(d.isObject(), where + ": a document must be a mapping");
                String kind = d.path("kind").asText(null);
                String api = d.path("apiVersion").asText(null);
                assertNotNull(kind, where + ": no kind");
                assertNotNull(api, where + ": no apiVersion");
                assertTrue(API_VERSIONS.containsKey(kind), where + ": unexpected kind " + kind
                        + " (add it to API_VERSIONS and to deploy/tools/validate.mjs)");
                assertEquals(API_VERSIONS.get(kind), api, where + ": apiVersion");
                if (!kind.equals("Kustomization") && !kind.equals("Component")) {
                    assertFalse(d.path("metadata").path("name").asText("").isBlank(), where + ": metadata.name");
                }
            }
        }
    }

    @Test
    void kustomizationReferencesExistAndCoverEveryManifest() {
        JsonNode k = yaml(deployDir().resolve("kustomization.yaml"));
        Set<Path> referenced = new HashSet<>();
        assertTrue(k.path("resources").size() >= 5, "resources");
        for (JsonNode r : k.path("resources")) {
            Path p = deployDir().resolve(r.asText()).normalize();
            assertTrue(Files.isRegularFile(p), "kustomization resource missing: " + r.asText());
            referenced.add(p);
        }
        for (JsonNode c : k.path("components")) {
            assertTrue(Files.isRegularFile(deployDir().resolve(c.asText()).resolve("kustomization.yaml")),
                    "component missing: " + c.asText());
        }
        for (JsonNode gen : k.path("configMapGenerator")) {
            for (JsonNode file : gen.path("files")) {
                String f = file.asText();
                String path = f.contains("=") ? f.substring(f.indexOf('=') + 1) : f;
                assertTrue(Files.isRegularFile(deployDir().resolve(path)), "configMapGenerator file missing: " + f);
            }
        }
        // Every manifest file directly in deploy/ is part of the base (a forgotten file would never be applied).
        List<Path> manifests = new ArrayList<>();
        for (Path f : DeployFiles.deployFiles(".yaml", ".yml")) {
            if (f.getParent().equals(deployDir()) && !f.getFileName().toString().equals("kustomization.yaml")) {
                manifests.add(f.normalize());
            }
        }
        for (Path m : manifests) {
            assertTrue(referenced.contains(m), "deploy/" + m.getFileName() + " is not listed in kustomization.yaml");
        }
    }

    @Test
    void dashboardConfigMapIsGeneratedForTheGrafanaSidecar() {
        JsonNode k = yaml(deployDir().resolve("kustomization.yaml"));
        JsonNode gen = null;
        for (JsonNode g : k.path("configMapGenerator")) {
            for (JsonNode f : g.path("files")) {
                if (f.asText().endsWith("grafana/sd-guidance-dashboard.json")) {
                    gen = g;
                }
            }
        }
        assertNotNull(gen, "configMapGenerator for grafana/sd-guidance-dashboard.json");
        assertEquals("1", gen.path("options").path("labels").path("grafana_dashboard").asText(),
                "grafana_dashboard label (sidecar discovery)");
    }

    @Test
    void imageAndNamesLineUp() {
        JsonNode k = yaml(deployDir().resolve("kustomization.yaml"));
        String image = DeployFiles.container().path("image").asText();
        boolean imageOverridable = false;
        for (JsonNode i : k.path("images")) {
            imageOverridable |= i.path("name").asText().equals(image);
        }
        assertTrue(imageOverridable, "kustomization images[] should name the container image '" + image + "'");

        JsonNode deployment = resource("Deployment");
        String name = deployment.path("metadata").path("name").asText();
        JsonNode podLabels = deployment.path("spec").path("template").path("metadata").path("labels");
        JsonNode selector = deployment.path("spec").path("selector").path("matchLabels");
        assertTrue(selector.size() > 0, "Deployment selector");
        selector.fields().forEachRemaining(e -> assertEquals(e.getValue().asText(),
                podLabels.path(e.getKey()).asText(null), "pod template label " + e.getKey() + " (selector)"));
        JsonNode svcSelector = resource("Service").path("spec").path("selector");
        assertTrue(svcSelector.size() > 0, "Service selector");
        svcSelector.fields().forEachRemaining(e -> assertEquals(e.getValue().asText(),
                podLabels.path(e.getKey()).asText(null), "Service selects the pods by " + e.getKey()));

        JsonNode svcLabels = resource("Service").path("metadata").path("labels");
        JsonNode smSelector = resource("ServiceMonitor").path("spec").path("selector").path("matchLabels");
        assertTrue(smSelector.size() > 0, "ServiceMonitor selector");
        smSelector.fields().forEachRemaining(e -> assertEquals(e.getValue().asText(),
                svcLabels.path(e.getKey()).asText(null), "ServiceMonitor selects the Service by " + e.getKey()));

        JsonNode target = resource("ScaledObject").path("spec").path("scaleTargetRef");
        assertEquals(name, target.path("name").asText(), "ScaledObject scaleTargetRef.name");
        assertEquals("Deployment", target.path("kind").asText("Deployment"), "ScaledObject target kind");

        String claim = null;
        for (JsonNode v : deployment.path("spec").path("template").path("spec").path("volumes")) {
            if (v.has("persistentVolumeClaim")) {
                claim = v.path("persistentVolumeClaim").path("claimName").asText();
            }
        }
        assertEquals(resource("PersistentVolumeClaim").path("metadata").path("name").asText(), claim,
                "the Deployment mounts the PVC of the base");
    }

    @Test
    void runtimeClassComponentPatchesTheBaseDeployment() throws Exception {
        Path dir = deployDir().resolve("components/nvidia-runtime-class");
        JsonNode c = yaml(dir.resolve("kustomization.yaml"));
        assertEquals("Component", c.path("kind").asText());
        String deployment = resource("Deployment").path("metadata").path("name").asText();
        boolean found = false;
        for (JsonNode p : c.path("patches")) {
            assertEquals("Deployment", p.path("target").path("kind").asText(), "patch target kind");
            assertEquals(deployment, p.path("target").path("name").asText(), "patch target name");
            JsonNode ops = DeployFiles.YAML.readTree(p.path("patch").asText());
            assertTrue(ops.isArray(), "JSON6902 patch: a list of operations");
            for (JsonNode op : ops) {
                if (op.path("path").asText().equals("/spec/template/spec/runtimeClassName")) {
                    assertEquals("nvidia", op.path("value").asText());
                    assertTrue(Set.of("add", "replace").contains(op.path("op").asText()), "op");
                    found = true;
                }
            }
        }
        assertTrue(found, "the component sets spec.template.spec.runtimeClassName");
    }
}
