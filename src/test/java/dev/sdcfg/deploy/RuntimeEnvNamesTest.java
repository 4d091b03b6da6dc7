package dev.sdcfg.deploy;

import static dev.sdcfg.deploy.DeployFiles.envNameOf;
import static dev.sdcfg.deploy.DeployFiles.root;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.annotation.Annotation;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Every environment variable that the Dockerfiles and the Deployment set is read by something: the application's
 * configuration (SmallRye's env mapping of a known key), DJL (the name is a constant in the DJL class that reads
 * it, checked in the jars on the classpath), our own {@code System.getenv} calls, the image's own CMD, or the
 * OS/dynamic linker. A misspelt name (SD_MODEL_DIR, PYTORCH_LIB_PATH) would otherwise be silently ignored.
 */
class RuntimeEnvNamesTest {

    /** Configuration keys of the application (HTTP service). Env form: SmallRye's mapping, e.g. SD_MODEL_PATH. */
    static final List<String> APP_KEYS = List.of("sd.model.path", "sd.model.variant", "sd.device", "sd.dtype",
            "sd.queue.capacity", "sd.sync.timeout", "sd.jobs.ttl", "sd.jobs.max-retained");

    /** Quarkus' own keys set through env, with the config-mapping interface that declares each. */
    static final Map<String, String> QUARKUS_KEYS = Map.of(
            "quarkus.shutdown.timeout", "io.quarkus.runtime.shutdown.ShutdownConfig");

    /** Names DJL reads (Utils.getEnvOrSystemProperty / getenv), with the class that reads each. */
    static final Map<String, String> DJL_ENV = Map.of(
            "PYTORCH_LIBRARY_PATH", "ai/djl/pytorch/jni/LibUtils.class",
            "PYTORCH_VERSION", "ai/djl/pytorch/jni/LibUtils.class",
            "PYTORCH_FLAVOR", "ai/djl/pytorch/jni/LibUtils.class",
            "RUST_FLAVOR", "ai/djl/huggingface/tokenizers/jni/LibUtils.class",
            "DJL_OFFLINE", "ai/djl/util/Utils.class",
            "DJL_CACHE_DIR", "ai/djl/util/Utils.class",
            "OPT_OUT_TRACKING", "ai/djl/util/Ec2Utils.class");

    /** Read by the dynamic linker or by apt while the image builds (Dockerfiles only for the latter). */
    static final Set<String> OS_ENV = Set.of("LD_LIBRARY_PATH", "LANG", "LC_ALL", "TZ");
    static final Set<String> BUILD_ONLY_ENV = Set.of("DEBIAN_FRONTEND");

    /** Env names set anywhere in the deployment files, with where. */
    static Map<String, List<String>> setNames() {
        Map<String, List<String>> out = new LinkedHashMap<>();
        for (DockerfileModel d : List.of(DockerfileTest.cuda(), DockerfileTest.cpu())) {
            for (DockerfileModel.Stage s : d.stages) {
                for (String n : s.env().keySet()) {
                    out.computeIfAbsent(n, k -> new ArrayList<>()).add(d.file.getFileName() + " (" + s.name() + ")");
                }
            }
        }
        for (JsonNode e : DeployFiles.container().path("env")) {
            out.computeIfAbsent(e.path("name").asText(), k -> new ArrayList<>()).add("deploy/deployment.yaml");
        }
        return out;
    }

    static String mainSources() {
        StringBuilder b = new StringBuilder();
        try (Stream<Path> s = Files.walk(root().resolve("src/main/java"))) {
            for (Path p : s.filter(p -> p.toString().endsWith(".java")).sorted().toList()) {
                b.append(DeployFiles.read(p)).append('\n');
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return b.toString();
    }

    static Set<String> getenvLiterals() {
        Set<String> out = new LinkedHashSet<>();
        Matcher m = Pattern.compile("System\\.getenv\\(\\s*\"([A-Z0-9_]+)\"").matcher(mainSources());
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }

    /** Why a name is read, or null when nothing reads it. */
    static String reader(String name, String where) {
        for (String k : APP_KEYS) {
            if (envNameOf(k).equals(name)) {
                return "application config " + k;
            }
        }
        for (String k : QUARKUS_KEYS.keySet()) {
            if (envNameOf(k).equals(name)) {
                return "Quarkus config " + k;
            }
        }
        if (DJL_ENV.containsKey(name)) {
            return "DJL";
        }
        if (getenvLiterals().contains(name)) {
            return "System.getenv in src/main/java";
        }
        if (OS_ENV.contains(name)) {
            return "OS";
        }
        if (BUILD_ONLY_ENV.contains(name) && where.startsWith("Dockerfile")) {
            return "apt during the build";
        }
        // Consumed by the image's own CMD (JAVA_OPTS, JAVA_OPTS_APPEND): both images must expand it.
        boolean inCmd = true;
        for (DockerfileModel d : List.of(DockerfileTest.cuda(), DockerfileTest.cpu())) {
            String cmd = DockerfileTest.shellCmd(d);
            inCmd &= cmd.contains("${" + name + "}") || cmd.matches("(?s).*\\$" + name + "\\b.*");
        }
        return inCmd ? "the image's CMD" : null;
    }

    @Test
    void everySetNameIsReadBySomething() {
        Map<String, List<String>> names = setNames();
        assertTrue(names.keySet().containsAll(List.of("PYTORCH_LIBRARY_PATH", "SD_MODEL_PATH",
                "QUARKUS_SHUTDOWN_TIMEOUT", "JAVA_OPTS")), "collected: " + names.keySet());
        List<String> unread = new ArrayList<>();
        for (Map.Entry<String, List<String>> e : names.entrySet()) {
            for (String where : e.getValue()) {
                if (reader(e.getKey(), where) == null) {
                    unread.add(e.getKey() + " in " + where);
                }
            }
        }
        assertTrue(unread.isEmpty(), "set but read by nothing: " + unread);
    }

    @Test
    void theClassificationRejectsUnknownNames() {
        // The rule is not vacuous: typical misspellings are not recognised.
        for (String wrong : List.of("SD_MODEL_DIR", "PYTORCH_LIB_PATH", "QUARKUS_SHUTDOWN_TIMEOUT_SECONDS",
                "DJL_OFFLINE_MODE", "JAVA_OPTIONS")) {
            assertEquals(null, reader(wrong, "deploy/deployment.yaml"), wrong);
        }
    }

    @Test
    void djlNamesAreConstantsOfTheDjlClassesThatReadThem() throws IOException {
        for (Map.Entry<String, String> e : DJL_ENV.entrySet()) {
            String classBytes = DockerfileTest.classpathText(e.getValue());
            assertTrue(classBytes.contains(e.getKey()), e.getValue() + " (DJL on the classpath) reads " + e.getKey());
        }
        // And our runtime reads DJL_OFFLINE itself as well.
        assertTrue(getenvLiterals().contains("DJL_OFFLINE"), "DjlRuntime reads DJL_OFFLINE");
    }

    @Test
    void quarkusKeysAreDeclaredByQuarkus() throws Exception {
        for (Map.Entry<String, String> e : QUARKUS_KEYS.entrySet()) {
            Class<?> mapping = Class.forName(e.getValue());
            String prefix = null;
            for (Annotation a : mapping.getAnnotations()) {
                if (a.annotationType().getName().equals("io.smallrye.config.ConfigMapping")) {
                    prefix = (String) a.annotationType().getMethod("prefix").invoke(a);
                }
            }
            assertNotNull(prefix, e.getValue() + " is a @ConfigMapping");
            String key = e.getKey();
            assertTrue(key.startsWith(prefix + "."), key + " under " + prefix);
            String member = key.substring(prefix.length() + 1);
            assertNotNull(mapping.getMethod(member), e.getValue() + "." + member + "()");
        }
    }

    /**
     * The SD_* names the deployment sets are configuration keys that the application's code reads. Skipped (not
     * passed) while src/main has no configuration code at all, i.e. before the HTTP service is merged.
     */
    @Test
    void appKeysSetByTheDeploymentAreReadByTheApplication() {
        String sources = mainSources();
        String props = DeployFiles.read(root().resolve("src/main/resources/application.properties"));
        boolean hasConfigCode = sources.contains("@ConfigProperty") || sources.contains("@ConfigMapping")
                || sources.contains("ConfigProvider.getConfig");
        Assumptions.assumeTrue(hasConfigCode,
                "no configuration code in src/main/java yet (HTTP service not merged): cross-check skipped");
        List<String> missing = new ArrayList<>();
        for (String name : setNames().keySet()) {
            for (String key : APP_KEYS) {
                if (envNameOf(key).equals(name) && !evidenced(key, sources, props)) {
                    missing.add(name + " (" + key + ")");
                }
            }
        }
        assertTrue(missing.isEmpty(), "set by the deployment but not read by src/main: " + missing);
    }

    /**
     * A key is read if code injects or looks it up by that literal ({@code @ConfigProperty(name = "key")},
     * {@code getValue("key", ...)}), if application.properties sets it, or if a {@code @ConfigMapping} declares it.
     * A bare string literal is not enough: MetricNames' meter "sd.queue.capacity" has the spelling of a key.
     */
    static boolean evidenced(String key, String sources, String props) {
        String lit = "\"" + Pattern.quote(key) + "\"";
        if (Pattern.compile("@ConfigProperty\\(\\s*name\\s*=\\s*" + lit).matcher(sources).find()
                || Pattern.compile("\\b(getValue|getOptionalValue|getConfigValue|getValues|getOptionalValues)\\(\\s*"
                        + lit).matcher(sources).find()
                || Pattern.compile("(?m)^\\s*(%[\\w-]+\\.)?" + Pattern.quote(key) + "\\s*[=:]").matcher(props).find()) {
            return true;
        }
        Matcher m = Pattern.compile("@ConfigMapping\\(\\s*prefix\\s*=\\s*\"([^\"]+)\"").matcher(sources);
        while (m.find()) {
            String prefix = m.group(1);
            if (key.startsWith(prefix + ".")) {
                boolean all = true;
                for (String seg : key.substring(prefix.length() + 1).split("\\.")) {
                    all &= sources.matches("(?s).*\\b" + Pattern.quote(camel(seg)) + "\\s*\\(\\s*\\).*");
                }
                if (all) {
                    return true;
                }
            }
        }
        return false;
    }

    static String camel(String kebab) {
        StringBuilder b = new StringBuilder();
        boolean up = false;
        for (char c : kebab.toCharArray()) {
            if (c == '-') {
                up = true;
            } else {
                b.append(up ? Character.toUpperCase(c) : c);
                up = false;
            }
        }
        return b.toString();
    }

    @Test
    void evidenceRuleRecognisesTheUsualForms() {
        String props = "quarkus.http.port=8080\n%prod.sd.jobs.ttl=10m\n";
        assertTrue(evidenced("sd.model.path", "@ConfigProperty(name = \"sd.model.path\") String p;", ""));
        assertTrue(evidenced("sd.jobs.ttl", "", props));
        assertTrue(evidenced("sd.jobs.max-retained",
                "@ConfigMapping(prefix = \"sd\") interface C { Jobs jobs(); interface Jobs { int maxRetained(); } }",
                ""));
        assertTrue(evidenced("sd.sync.timeout", "config.getOptionalValue(\"sd.sync.timeout\", Duration.class)", ""));
        assertFalse(evidenced("sd.model.path", "@ConfigProperty(name = \"sd.model.dir\") String p;", props));
        assertFalse(evidenced("sd.queue.capacity", "String QUEUE_CAPACITY = \"sd.queue.capacity\";", props));
        assertFalse(evidenced("sd.queue.capacity", "@ConfigMapping(prefix = \"sd\") interface C { int size(); }",
                props));
    }
}
