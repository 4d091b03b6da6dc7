package dev.sdcfg.runtime;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The engine (model, sampler, guidance, pipeline, runtime) and the tools that run from a small classpath (bench,
 * cli, eval) depend on DJL, the tokenizer, Gson and the JDK only: no Quarkus, Jakarta, MicroProfile, Jackson, Vert.x or
 * Micrometer class is referenced from their bytecode. (The GPU benchmark runs them with exactly that classpath.)
 */
class CorePackagesTest {

    private static final List<String> CORE = List.of("dev/sdcfg/runtime", "dev/sdcfg/model", "dev/sdcfg/sampler",
            "dev/sdcfg/guidance", "dev/sdcfg/pipeline", "dev/sdcfg/bench", "dev/sdcfg/cli", "dev/sdcfg/eval");

    /** Internal-name prefixes of the service frameworks (class references live in the constant pool as UTF-8). */
    static final List<String> FRAMEWORKS = List.of("io/quarkus/", "jakarta/", "javax/ws/", "org/eclipse/microprofile/",
            "com/fasterxml/", "io/vertx/", "io/micrometer/", "io/smallrye/", "org/jboss/");

    @Test
    void coreClassesReferenceNoServiceFramework() throws Exception {
        Path classes = Path.of(HostScalars.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<String> offenders = new ArrayList<>();
        int scanned = 0;
        for (String pkg : CORE) {
            Path dir = classes.resolve(pkg);
            assertTrue(Files.isDirectory(dir), "no compiled classes at " + dir);
            List<Path> files;
            try (Stream<Path> s = Files.walk(dir)) {
                files = s.filter(p -> p.toString().endsWith(".class")).toList();
            }
            for (Path f : files) {
                scanned++;
                String found = frameworkReference(Files.readAllBytes(f));
                if (found != null) {
                    offenders.add(classes.relativize(f) + " → " + found);
                }
            }
        }
        assertTrue(scanned > 100, "only " + scanned + " classes scanned");
        assertEquals(List.of(), offenders);
    }

    @Test
    void theCheckSeesAFrameworkReference() throws Exception {
        Path api = Path.of(HostScalars.class.getProtectionDomain().getCodeSource().getLocation().toURI())
                .resolve("dev/sdcfg/api/ImagesResource.class");
        assertEquals("jakarta/", frameworkReference(Files.readAllBytes(api)).substring(0, "jakarta/".length()));
    }

    /** The first framework prefix found in a class file's bytes (names are stored as modified UTF-8), or null. */
    static String frameworkReference(byte[] classFile) {
        String text = new String(classFile, StandardCharsets.ISO_8859_1);
        for (String prefix : FRAMEWORKS) {
            int at = text.indexOf(prefix);
            if (at >= 0) {
                int end = at;
                while (end < text.length() && text.charAt(end) > ' ' && text.charAt(end) != ';' && end - at < 80) {
                    end++;
                }
                return text.substring(at, end);
            }
        }
        return null;
    }
}
