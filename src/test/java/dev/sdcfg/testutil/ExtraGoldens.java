package dev.sdcfg.testutil;

import ai.djl.ndarray.types.DataType;
import dev.sdcfg.model.io.Safetensors;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertFalse;

/** Discovery shared by the data-driven replays of {@code src/test/resources/parity-extra/<area>/<case>/golden.safetensors}. */
public final class ExtraGoldens {

    private ExtraGoldens() {
    }

    /** A precision a golden is replayed in, with the project's limit on relative L2 for it. */
    public record Precision(String name, DataType dtype, double limit) {
    }

    /** fp64 (relative L2 ≤ 1e-6), then fp32 (≤ 1e-4). */
    public static final List<Precision> PRECISIONS = List.of(new Precision("f64", DataType.FLOAT64, 1e-6),
            new Precision("f32", DataType.FLOAT32, 1e-4));

    /** {@code parity-extra/<area>}. */
    public static Path root(String area) {
        return Fixtures.resource("parity-extra").resolve(area);
    }

    /** The case folders of an area that hold a golden.safetensors, sorted; fails when there are none. */
    public static List<Path> cases(String area) throws IOException {
        List<Path> cases;
        try (Stream<Path> s = Files.list(root(area))) {
            cases = s.filter(p -> Files.isRegularFile(p.resolve("golden.safetensors"))).sorted().toList();
        }
        assertFalse(cases.isEmpty(), "no cases with golden.safetensors under " + root(area));
        return cases;
    }

    /** The run tags of a case: its golden's keys ending with {@code suffix}, without it, sorted; fails when none. */
    public static List<String> tags(Path caseDir, String suffix) throws IOException {
        List<String> tags = new ArrayList<>();
        try (Safetensors st = Safetensors.open(caseDir.resolve("golden.safetensors"))) {
            for (String k : new TreeSet<>(st.keys())) {
                if (k.endsWith(suffix)) {
                    tags.add(k.substring(0, k.length() - suffix.length()));
                }
            }
        }
        assertFalse(tags.isEmpty(), caseDir + ": golden.safetensors has no <tag>" + suffix + " keys");
        return tags;
    }

    /** The comparison of one run: the entries at or over the limit (NaN included) and the worst entry. */
    public record Verdict(List<String> overLimit, String worstKey, double worst) {
    }

    /** Judges relative-L2 errors by name against {@code limit}; a NaN error is over the limit and the worst. */
    public static Verdict judge(Map<String, Double> errors, double limit) {
        List<String> over = new ArrayList<>();
        double worst = 0;
        String worstKey = "";
        for (Map.Entry<String, Double> e : errors.entrySet()) {
            double err = e.getValue();
            if (!(err < limit)) {
                over.add(e.getKey() + "=" + err);
            }
            if (!(err <= worst)) {
                worst = err;
                worstKey = e.getKey();
            }
        }
        return new Verdict(over, worstKey, worst);
    }
}
