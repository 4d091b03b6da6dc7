package dev.sdcfg.deploy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Reads the deployment files of the project (deploy/, the Dockerfiles, application.properties) for the checks in
 * this package. YAML is read with Jackson's YAML data format (jackson-dataformat-yaml + SnakeYAML, on the test
 * classpath through quarkus-smallrye-openapi), so YAML and the dashboard JSON are navigated the same way.
 */
final class DeployFiles {

    static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
    static final ObjectMapper JSON = new ObjectMapper();

    private DeployFiles() {
    }

    /** The project root: the nearest folder at or above the working directory that holds pom.xml. */
    static Path root() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.isRegularFile(p.resolve("pom.xml"))) {
            p = p.getParent();
        }
        if (p == null) {
            throw new IllegalStateException("no pom.xml above " + Path.of("").toAbsolutePath());
        }
        return p;
    }

    static Path deployDir() {
        return root().resolve("deploy");
    }

    static String read(Path file) {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Every document of a (multi-document) YAML file; empty documents are skipped. */
    static List<JsonNode> yamlDocs(Path file) {
        List<JsonNode> docs = new ArrayList<>();
        try (MappingIterator<JsonNode> it = YAML.readerFor(JsonNode.class).readValues(file.toFile())) {
            while (it.hasNext()) {
                JsonNode n = it.next();
                if (n != null && !n.isNull() && !n.isMissingNode()) {
                    docs.add(n);
                }
            }
        } catch (IOException e) {
            throw new AssertionError("cannot parse YAML " + root().relativize(file) + ": " + e.getMessage(), e);
        }
        return docs;
    }

    static JsonNode yaml(Path file) {
        List<JsonNode> docs = yamlDocs(file);
        if (docs.size() != 1) {
            throw new AssertionError(root().relativize(file) + " should hold one YAML document, has " + docs.size());
        }
        return docs.get(0);
    }

    static JsonNode json(Path file) {
        try {
            return JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new AssertionError("cannot parse JSON " + root().relativize(file) + ": " + e.getMessage(), e);
        }
    }

    /** All files under deploy/ with one of the given extensions (node_modules excluded). */
    static List<Path> deployFiles(String... extensions) {
        try (Stream<Path> s = Files.walk(deployDir())) {
            return s.filter(Files::isRegularFile)
                    .filter(p -> !p.toString().contains("node_modules"))
                    .filter(p -> {
                        String n = p.getFileName().toString();
                        for (String ext : extensions) {
                            if (n.endsWith(ext)) {
                                return true;
                            }
                        }
                        return false;
                    })
                    .sorted()
                    .toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The kustomization's resources, as parsed documents (one Kubernetes object each). */
    static List<JsonNode> baseResources() {
        JsonNode k = yaml(deployDir().resolve("kustomization.yaml"));
        List<JsonNode> out = new ArrayList<>();
        for (JsonNode r : k.path("resources")) {
            out.addAll(yamlDocs(deployDir().resolve(r.asText())));
        }
        return out;
    }

    static JsonNode resource(String kind) {
        List<JsonNode> found = baseResources().stream().filter(n -> kind.equals(n.path("kind").asText())).toList();
        if (found.size() != 1) {
            throw new AssertionError("expected exactly one " + kind + " among the kustomization resources, found "
                    + found.size());
        }
        return found.get(0);
    }

    /** The application container of the Deployment (the only one). */
    static JsonNode container() {
        JsonNode containers = resource("Deployment").path("spec").path("template").path("spec").path("containers");
        if (containers.size() != 1) {
            throw new AssertionError("the Deployment should have one container, has " + containers.size());
        }
        return containers.get(0);
    }

    /** The container's env var value, or null when it is not set (valueFrom is not used here). */
    static String containerEnv(String name) {
        for (JsonNode e : container().path("env")) {
            if (name.equals(e.path("name").asText())) {
                return e.path("value").asText();
            }
        }
        return null;
    }

    /** A Quarkus duration as seconds: a bare number is seconds; 500ms, 30s, 2m, 1h, 1d; or ISO-8601 (PT1M). */
    static double durationSeconds(String value) {
        String v = value.trim();
        Matcher m = Pattern.compile("(\\d+)(ms|s|m|h|d)?").matcher(v);
        if (m.matches()) {
            long n = Long.parseLong(m.group(1));
            String unit = m.group(2) == null ? "s" : m.group(2);
            return switch (unit) {
                case "ms" -> n / 1000.0;
                case "s" -> n;
                case "m" -> n * 60.0;
                case "h" -> n * 3600.0;
                default -> n * 86400.0;
            };
        }
        return Duration.parse(v.startsWith("P") || v.startsWith("p") ? v : "PT" + v).toMillis() / 1000.0;
    }

    /** The environment variable name that SmallRye Config maps to a property name. */
    static String envNameOf(String property) {
        StringBuilder b = new StringBuilder();
        for (char c : property.toCharArray()) {
            b.append(Character.isLetterOrDigit(c) ? Character.toUpperCase(c) : '_');
        }
        return b.toString();
    }

    /**
     * The application's effective HTTP configuration in the container (prod profile): Deployment env first, then
     * {@code %prod.key}, then {@code key} from application.properties, then Quarkus' default.
     */
    static final class AppConfig {
        final Properties props = new Properties();

        AppConfig() {
            Path p = root().resolve("src/main/resources/application.properties");
            if (Files.isRegularFile(p)) {
                try (InputStream in = Files.newInputStream(p)) {
                    props.load(in);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            }
        }

        String get(String key, String def) {
            String env = containerEnv(envNameOf(key));
            if (env != null && !env.isEmpty()) {
                return env;
            }
            String v = props.getProperty("%prod." + key);
            if (v == null) {
                v = props.getProperty(key);
            }
            return v == null || v.isBlank() ? def : v.trim();
        }

        boolean managementEnabled() {
            return Boolean.parseBoolean(get("quarkus.management.enabled", "false"));
        }

        /** Port of the main HTTP server. */
        int httpPort() {
            return Integer.parseInt(get("quarkus.http.port", "8080"));
        }

        /** Port that serves health and metrics: the management port when the management interface is on. */
        int opsPort() {
            return managementEnabled() ? Integer.parseInt(get("quarkus.management.port", "9000")) : httpPort();
        }

        /** Root of the non-application endpoints (/q by default). */
        String nonAppRoot() {
            if (managementEnabled()) {
                return join("/", get("quarkus.management.root-path", "/q"));
            }
            return join(get("quarkus.http.root-path", "/"), get("quarkus.http.non-application-root-path", "q"));
        }

        String healthRoot() {
            return join(nonAppRoot(), get("quarkus.smallrye-health.root-path", "health"));
        }

        String livenessPath() {
            return join(healthRoot(), get("quarkus.smallrye-health.liveness-path", "live"));
        }

        String readinessPath() {
            return join(healthRoot(), get("quarkus.smallrye-health.readiness-path", "ready"));
        }

        String startupPath() {
            return join(healthRoot(), get("quarkus.smallrye-health.startup-path", "started"));
        }

        String metricsPath() {
            return join(nonAppRoot(), get("quarkus.micrometer.export.prometheus.path", "metrics"));
        }

        /** Quarkus' rule: a path that starts with '/' is absolute, otherwise it is relative to the parent. */
        static String join(String parent, String child) {
            if (child.startsWith("/")) {
                return normalize(child);
            }
            return normalize(parent + "/" + child);
        }

        private static String normalize(String p) {
            String s = ("/" + p).replaceAll("/+", "/");
            return s.length() > 1 && s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
        }
    }
}
