package dev.sdcfg.deploy;

import static dev.sdcfg.deploy.DeployFiles.root;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.sdcfg.deploy.DockerfileModel.Instruction;
import dev.sdcfg.deploy.DockerfileModel.Stage;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Dockerfile.cuda and Dockerfile: build stage, runtime base, the PyTorch override that DJL reads (consistent with
 * the DJL jars on the classpath), non-root user, health check, JVM flags, command, and the .dockerignore.
 */
class DockerfileTest {

    static DockerfileModel cuda() {
        return new DockerfileModel(root().resolve("Dockerfile.cuda"));
    }

    static DockerfileModel cpu() {
        return new DockerfileModel(root().resolve("Dockerfile"));
    }

    /** The numeric UID of the final stage's USER (a name would defeat Kubernetes' runAsNonRoot check). */
    static String imageUid(DockerfileModel d) {
        String user = d.finalStage().last("USER").args().trim();
        String uid = user.contains(":") ? user.substring(0, user.indexOf(':')) : user;
        assertTrue(uid.matches("\\d+"), d.file.getFileName() + ": USER should be numeric, is " + user);
        return uid;
    }

    /** Exec-form CMD as one shell string (the form used here is ["/bin/sh", "-c", "..."]). */
    static String shellCmd(DockerfileModel d) {
        String cmd = d.finalStage().last("CMD").args().trim();
        try {
            String[] parts = DeployFiles.JSON.readValue(cmd, String[].class);
            assertEquals(3, parts.length, "CMD [\"/bin/sh\", \"-c\", \"...\"]");
            assertEquals("-c", parts[1]);
            return parts[2];
        } catch (IOException e) {
            throw new AssertionError(d.file.getFileName() + ": CMD should be JSON exec form: " + cmd, e);
        }
    }

    static String classpathText(String resource) {
        try (InputStream in = DockerfileTest.class.getClassLoader().getResourceAsStream(resource)) {
            assertNotNull(in, "classpath resource " + resource);
            return new String(in.readAllBytes(), java.nio.charset.StandardCharsets.ISO_8859_1);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    static Properties classpathProperties(String resource) {
        Properties p = new Properties();
        try (InputStream in = DockerfileTest.class.getClassLoader().getResourceAsStream(resource)) {
            assertNotNull(in, "classpath resource " + resource);
            p.load(in);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return p;
    }

    @Test
    void bothImagesShareTheMavenBuildStage() {
        Stage cudaBuild = cuda().stage("build");
        Stage cpuBuild = cpu().stage("build");
        assertTrue(cudaBuild.from().contains("maven") && cudaBuild.from().contains("17"),
                "build stage on a Maven + JDK 17 image: " + cudaBuild.from());
        assertEquals(cudaBuild.from(), cpuBuild.from(), "same build image");
        assertEquals(cudaBuild.instructions().stream().map(i -> i.keyword() + " " + i.args()).toList(),
                cpuBuild.instructions().stream().map(i -> i.keyword() + " " + i.args()).toList(),
                "the two Dockerfiles' build stages are the same");
        assertTrue(cudaBuild.all("RUN").stream().anyMatch(r -> r.args().contains("./mvnw -B package -DskipTests")),
                "./mvnw -B package -DskipTests");
        for (DockerfileModel d : List.of(cuda(), cpu())) {
            boolean copiesApp = d.finalStage().all("COPY").stream().anyMatch(c -> c.args().contains("--from=build")
                    && c.args().matches(".*\\S*target/quarkus-app/?\\s+/app/?$"));
            assertTrue(copiesApp, d.file.getFileName() + ": COPY --from=build .../target/quarkus-app/ /app/");
        }
        // The fast-jar layout (quarkus-run.jar) is what the CMD runs: the build must not switch to another one.
        String type = new DeployFiles.AppConfig().get("quarkus.package.jar.type", "fast-jar");
        assertEquals("fast-jar", type, "quarkus.package.jar.type");
    }

    @Test
    void cudaRuntimeUsesTheTorchOverrideThatDjlExpects() {
        DockerfileModel d = cuda();
        Stage rt = d.finalStage();
        assertTrue(rt.from().startsWith("nvidia/cuda:12.8"), "CUDA 12.8 base: " + rt.from());
        Map<String, String> env = rt.env();
        Stage torch = d.stage("torch");
        Map<String, String> torchArgs = torch.args();

        // torch==X from the cuNNN index; PYTORCH_VERSION and PYTORCH_FLAVOR say the same.
        String torchVersion = torchArgs.get("TORCH_VERSION");
        String index = torchArgs.get("TORCH_INDEX_URL");
        assertEquals("2.7.1", torchVersion, "pip torch version");
        assertTrue(torch.all("RUN").stream().anyMatch(r -> r.args().contains("torch==${TORCH_VERSION}")
                && r.args().contains("${TORCH_INDEX_URL}")), "pip install torch==${TORCH_VERSION} from the index");
        assertEquals(torchVersion, env.get("PYTORCH_VERSION"), "PYTORCH_VERSION = the pip torch version");
        assertEquals(index.substring(index.lastIndexOf('/') + 1), env.get("PYTORCH_FLAVOR"),
                "PYTORCH_FLAVOR = the wheel index flavor");
        assertEquals("cu128", env.get("PYTORCH_FLAVOR"));

        // The pytorch-jni jar on the classpath has this JNI build (else DJL fails with "Cannot copy jni files").
        Properties jni = classpathProperties("jnilib/pytorch.properties");
        assertTrue(jni.getProperty("jni_version", "").startsWith(env.get("PYTORCH_VERSION") + "-"),
                "pytorch-jni " + jni.getProperty("jni_version") + " is built for PYTORCH_VERSION");
        assertNotNull(getClass().getClassLoader().getResource(
                "jnilib/linux-x86_64/" + env.get("PYTORCH_FLAVOR") + "/libdjl_torch.so"),
                "pytorch-jni has jnilib/linux-x86_64/" + env.get("PYTORCH_FLAVOR"));
        // The CPU image runs the same libtorch version (from the pytorch-native-cpu jar).
        Properties cpuNative = classpathProperties("native/lib/pytorch.properties");
        assertTrue(cpuNative.getProperty("version", "").startsWith(torchVersion),
                "pytorch-native-cpu " + cpuNative.getProperty("version") + " vs torch " + torchVersion);

        // PYTORCH_LIBRARY_PATH is the copied torch/lib, and nvidia/ sits at ../../nvidia from it ($ORIGIN RPATH).
        String libPath = env.get("PYTORCH_LIBRARY_PATH");
        assertNotNull(libPath, "PYTORCH_LIBRARY_PATH");
        String torchLibDest = copyDestination(rt, "torch", "/torch/lib");
        String nvidiaDest = copyDestination(rt, "torch", "/nvidia");
        assertEquals(Path.of(torchLibDest), Path.of(libPath), "PYTORCH_LIBRARY_PATH is where torch/lib is copied");
        assertEquals(Path.of(libPath).resolve("../../nvidia").normalize(), Path.of(nvidiaDest),
                "nvidia/ keeps its place relative to torch/lib");
        assertTrue(torch.all("RUN").stream().anyMatch(r -> r.args().contains("--target /opt/torch")),
                "pip --target /opt/torch");
        assertTrue(torchLibDest.startsWith("/opt/torch/"), "copied from the pip target");

        // The CMD refuses to start without libtorch.so there (DJL would silently use the CPU jar).
        String cmd = shellCmd(d);
        assertTrue(cmd.contains("${PYTORCH_LIBRARY_PATH}/libtorch.so") && cmd.contains("exit"),
                "start-up guard on $PYTORCH_LIBRARY_PATH/libtorch.so: " + cmd);
        // CudaUtils (JNA) finds the same cudart as torch.
        Matcher jna = Pattern.compile("-Djna\\.library\\.path=(\\S+)").matcher(env.get("JAVA_OPTS"));
        assertTrue(jna.find(), "-Djna.library.path in JAVA_OPTS");
        assertTrue(jna.group(1).startsWith(nvidiaDest + "/cuda_runtime/lib"), "jna.library.path: " + jna.group(1));
        assertEquals("cpu", env.get("RUST_FLAVOR"), "RUST_FLAVOR=cpu (else tokenizers try to download a CUDA build)");
        assertEquals("true", env.get("DJL_OFFLINE"));
    }

    /** Destination of the final stage's COPY --from=stage whose source ends with the suffix. */
    private static String copyDestination(Stage rt, String fromStage, String sourceSuffix) {
        for (Instruction c : rt.all("COPY")) {
            List<String> parts = new ArrayList<>(List.of(c.args().trim().split("\\s+")));
            if (!parts.remove("--from=" + fromStage)) {
                continue;
            }
            parts.removeIf(p -> p.startsWith("--"));
            String src = parts.get(0).replaceAll("/+$", "");
            if (src.endsWith(sourceSuffix)) {
                return parts.get(parts.size() - 1).replaceAll("/+$", "");
            }
        }
        throw new AssertionError("no COPY --from=" + fromStage + " of *" + sourceSuffix);
    }

    @Test
    void cpuRuntimeTakesNativesFromTheJar() {
        Stage rt = cpu().finalStage();
        assertTrue(rt.from().startsWith("eclipse-temurin:") && rt.from().contains("jre"), "Temurin JRE: " + rt.from());
        Map<String, String> env = rt.env();
        for (String n : List.of("PYTORCH_LIBRARY_PATH", "PYTORCH_FLAVOR", "PYTORCH_VERSION")) {
            assertFalse(env.containsKey(n), "CPU image must not set " + n + " (natives come from the jar)");
        }
        assertEquals("cpu", env.get("RUST_FLAVOR"));
        assertEquals("true", env.get("DJL_OFFLINE"));
        assertNotNull(getClass().getClassLoader().getResource("native/lib/pytorch.properties"),
                "pytorch-native-cpu jar on the classpath");
    }

    @Test
    void containerBasics() {
        DeployFiles.AppConfig app = new DeployFiles.AppConfig();
        for (DockerfileModel d : List.of(cuda(), cpu())) {
            String f = d.file.getFileName().toString();
            Stage rt = d.finalStage();
            assertFalse(imageUid(d).equals("0"), f + ": non-root USER");
            assertEquals(Integer.toString(app.httpPort()), rt.last("EXPOSE").args().trim(), f + ": EXPOSE");

            String hc = rt.last("HEALTHCHECK").args();
            Matcher url = Pattern.compile("https?://(?:127\\.0\\.0\\.1|localhost):(\\d+)(/\\S*)").matcher(hc);
            assertTrue(url.find(), f + ": HEALTHCHECK URL: " + hc);
            assertEquals(app.opsPort(), Integer.parseInt(url.group(1)), f + ": HEALTHCHECK port");
            assertEquals(app.readinessPath(), url.group(2), f + ": HEALTHCHECK on readiness");
            Matcher start = Pattern.compile("--start-period=(\\S+)").matcher(hc);
            assertTrue(start.find() && DeployFiles.durationSeconds(start.group(1)) >= 600,
                    f + ": HEALTHCHECK --start-period covers the model load");

            String opts = rt.env().get("JAVA_OPTS");
            assertNotNull(opts, f + ": JAVA_OPTS");
            for (String flag : List.of("-XX:MaxRAMPercentage=", "-XX:+ExitOnOutOfMemoryError",
                    "-Djava.awt.headless=true")) {
                assertTrue(opts.contains(flag), f + ": JAVA_OPTS has " + flag);
            }
            String cmd = shellCmd(d);
            assertTrue(cmd.matches("(?s).*exec java \\$\\{JAVA_OPTS}.* -jar /app/quarkus-run\\.jar\\s*$"),
                    f + ": CMD execs java with JAVA_OPTS on /app/quarkus-run.jar: " + cmd);

            // The DJL cache is created for the runtime user (DJL extracts JNI libraries there).
            String cache = rt.env().get("DJL_CACHE_DIR");
            assertNotNull(cache, f + ": DJL_CACHE_DIR");
            String uid = imageUid(d);
            assertTrue(rt.all("RUN").stream().anyMatch(r -> r.args().matches(
                    "(?s).*chown\\s+" + uid + "(:\\d+)?\\s+(\\S+\\s+)*" + Pattern.quote(cache) + "(\\s.*|$)")),
                    f + ": chown " + uid + " " + cache);
            assertTrue(rt.all("VOLUME").stream().anyMatch(v -> v.args().contains("/models")), f + ": VOLUME /models");
        }
    }

    @Test
    void dockerignoreKeepsTheBuildInputsAndDropsTheRest() {
        Path ignore = root().resolve(".dockerignore");
        assertTrue(Files.isRegularFile(ignore), ".dockerignore");
        List<String> patterns = DeployFiles.read(ignore).lines().map(String::strip)
                .filter(l -> !l.isEmpty() && !l.startsWith("#")).toList();
        for (String in : List.of("mvnw", "pom.xml", ".mvn/wrapper/maven-wrapper.properties",
                "src/main/java/dev/sdcfg/jobs/MetricNames.java", "src/main/resources/application.properties")) {
            assertFalse(ignored(patterns, in), in + " must be in the build context");
        }
        for (String out : List.of("target/quarkus-app/quarkus-run.jar", ".git/HEAD", "deploy/deployment.yaml",
                "local/x", "bench-out/x", "src/test/resources/parity/x")) {
            assertTrue(ignored(patterns, out), out + " should stay out of the build context");
        }
        // Every COPY source of the build stage is in the context.
        for (Instruction c : cuda().stage("build").all("COPY")) {
            String[] parts = c.args().trim().split("\\s+");
            for (int i = 0; i < parts.length - 1; i++) {
                String src = parts[i].replaceAll("/+$", "");
                assertFalse(ignored(patterns, src), "COPY source " + src + " is excluded by .dockerignore");
            }
        }
    }

    /** .dockerignore semantics (last matching pattern wins; a pattern also matches everything below it). */
    static boolean ignored(List<String> patterns, String path) {
        boolean ignored = false;
        for (String raw : patterns) {
            boolean negate = raw.startsWith("!");
            String p = (negate ? raw.substring(1) : raw).replaceAll("^/+", "").replaceAll("/+$", "");
            var matcher = FileSystems.getDefault().getPathMatcher("glob:" + p);
            Path candidate = Path.of(path);
            boolean match = false;
            for (Path cur = candidate; cur != null; cur = cur.getParent()) {
                if (matcher.matches(cur)) {
                    match = true;
                    break;
                }
            }
            if (match) {
                ignored = !negate;
            }
        }
        return ignored;
    }
}
