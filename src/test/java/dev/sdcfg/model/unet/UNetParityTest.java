package dev.sdcfg.model.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * UNet parity against the diffusers goldens, driven by what the golden folder holds: for each {@code unet_f32} /
 * {@code unet_f64} file in {@link Fixtures#golden()} and each {@code <tag>.out} key in it, one forward of the model
 * in {@link Fixtures#model()}{@code /unet} at that timestep; the output and every {@code <tag>.<module>} intermediate
 * must be within relative L2 1e-4 (fp32) / 1e-6 (fp64).
 *
 * <p>Timestep tags: {@code t999} is int64 999, {@code t1f} float 1.0, {@code t642p5} float 642.5 (a
 * {@code <tag>.timestep} tensor, when the file has one, takes precedence).
 */
class UNetParityTest {

    private static final Pattern TAG = Pattern.compile("t(\\d+)(?:p(\\d+))?(f?)");
    private static final Map<String, Double> WORST = new TreeMap<>();

    @TestFactory
    List<DynamicTest> parity() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        Path golden = Fixtures.golden();
        for (String name : List.of("unet_f32", "unet_f64")) {
            Path file = golden.resolve(name + ".safetensors");
            if (!Files.isRegularFile(file)) {
                continue;
            }
            DataType dtype = name.endsWith("f64") ? DataType.FLOAT64 : DataType.FLOAT32;
            double tol = dtype == DataType.FLOAT64 ? 1e-6 : 1e-4;
            List<String> tags = new ArrayList<>();
            try (Safetensors st = Safetensors.open(file)) {
                for (String k : new TreeSet<>(st.keys())) {
                    if (k.endsWith(".out")) {
                        tags.add(k.substring(0, k.length() - 4));
                    }
                }
            }
            for (String tag : tags) {
                tests.add(DynamicTest.dynamicTest(name + " " + tag, () -> check(file, name, tag, dtype, tol)));
            }
        }
        assertTrue(!tests.isEmpty(), "no unet_f32/unet_f64 goldens with <tag>.out keys in " + golden);
        return tests;
    }

    private static void check(Path file, String name, String tag, DataType dtype, double tol) throws IOException {
        Path unetDir = Fixtures.model().resolve("unet");
        try (Safetensors st = Safetensors.open(file);
             NDManager m = NDManager.newBaseManager(DjlRuntime.engine().defaultDevice());
             UNet2DConditionModel unet = UNet2DConditionModel.load(unetDir, ComputeContext.cpu(dtype), null, 0)) {
            NDArray sample = st.load("sample", m, dtype);
            NDArray ehs = st.load("encoder_hidden_states", m, dtype);
            NDArray t = st.contains(tag + ".timestep") ? st.load(tag + ".timestep", m, null) : timestep(m, tag);
            Map<String, NDArray> rec = new LinkedHashMap<>();
            NDArray out = unet.forward(sample, t, ehs, rec);

            Map<String, Double> errors = new LinkedHashMap<>();
            errors.put(tag + ".out", Fixtures.relL2(out, st.load(tag + ".out", m, dtype)));
            List<String> notRecorded = new ArrayList<>();
            for (String k : st.keys()) {
                if (!k.startsWith(tag + ".") || k.equals(tag + ".out") || k.equals(tag + ".timestep")) {
                    continue;
                }
                NDArray ours = rec.get(k.substring(tag.length() + 1));
                if (ours == null) {
                    notRecorded.add(k);
                    continue;
                }
                errors.put(k, Fixtures.relL2(ours, st.load(k, m, dtype)));
            }
            List<String> bad = new ArrayList<>();
            for (Map.Entry<String, Double> e : errors.entrySet()) {
                double err = e.getValue();
                System.out.printf(Locale.ROOT, "[unet parity] %-9s %-22s relL2 %.3e%n", name, e.getKey(), err);
                synchronized (WORST) {
                    WORST.merge(name + " " + e.getKey(), err, Math::max);
                }
                if (!(err < tol)) {
                    bad.add(e.getKey() + "=" + err);
                }
            }
            if (!notRecorded.isEmpty()) {
                fail(name + ": golden intermediates the model does not record: " + notRecorded);
            }
            if (!bad.isEmpty()) {
                fail(name + ": relative L2 >= " + tol + " for " + bad);
            }
        }
    }

    /** {@code t999} → int64 999; {@code t1f} → float32 1.0; {@code t642p5} → float32 642.5 (all 0-dim). */
    static NDArray timestep(NDManager m, String tag) {
        Matcher mt = TAG.matcher(tag);
        if (!mt.matches()) {
            throw new IllegalArgumentException("cannot read a timestep from tag '" + tag + "'");
        }
        boolean isFloat = mt.group(2) != null || !mt.group(3).isEmpty();
        if (!isFloat) {
            return m.create(Long.parseLong(mt.group(1)));
        }
        String v = mt.group(1) + (mt.group(2) != null ? "." + mt.group(2) : "");
        return m.create(Float.parseFloat(v));
    }

    @AfterAll
    static void printWorst() {
        System.out.println("[unet parity] worst relative L2 per golden key:");
        WORST.forEach((k, v) -> System.out.printf(Locale.ROOT, "[unet parity]   %-32s %.3e%n", k, v));
    }
}
