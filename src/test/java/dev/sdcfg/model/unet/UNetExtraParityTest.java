package dev.sdcfg.model.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.ExtraGoldens;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * UNet parity on extra SD 2.x-style models (test resources {@code parity-extra/unet/<case>/}: config.json, weights,
 * {@code golden.safetensors}, notes.json), computed by diffusers' own UNet2DConditionModel source
 * (tools/unet-goldens). For each case, dtype (f64, f32) and run tag: one forward of the case's model on the run's
 * {@code <tag>.sample}, {@code <tag>.timestep} (as stored: int64 or float32, 0-dim or [B]) and
 * {@code <tag>.encoder_hidden_states}; {@code <tag>.<f64|f32>.out} and every recorded intermediate
 * {@code <tag>.<f64|f32>.<module>} must be within relative L2 1e-6 (fp64) / 1e-4 (fp32). The first run of each
 * case and dtype is checked once more with attention slicing (slice size {@value #SLICE}, which divides no
 * batch·heads count here) against the same goldens.
 */
class UNetExtraParityTest {

    private static final Map<String, Double> WORST = new TreeMap<>();
    static final int SLICE = 3;

    static Path root() {
        return ExtraGoldens.root("unet");
    }

    @TestFactory
    List<DynamicTest> parity() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (Path dir : ExtraGoldens.cases("unet")) {
            List<String> tags = ExtraGoldens.tags(dir, ".f64.out");
            for (ExtraGoldens.Precision p : ExtraGoldens.PRECISIONS) {
                for (String tag : tags) {
                    String name = dir.getFileName() + " " + p.name() + " " + tag;
                    tests.add(DynamicTest.dynamicTest(name,
                            () -> check(dir, name, tag, p.name(), p.dtype(), p.limit(), 0)));
                }
                String tag = tags.get(0);
                String name = dir.getFileName() + " " + p.name() + " " + tag + " sliced" + SLICE;
                tests.add(DynamicTest.dynamicTest(name,
                        () -> check(dir, name, tag, p.name(), p.dtype(), p.limit(), SLICE)));
            }
        }
        return tests;
    }

    private static void check(Path dir, String name, String tag, String d, DataType dtype, double tol, int slice)
            throws IOException {
        try (Safetensors st = Safetensors.open(dir.resolve("golden.safetensors"));
             NDManager m = NDManager.newBaseManager(DjlRuntime.engine().defaultDevice());
             UNet2DConditionModel unet = UNet2DConditionModel.load(dir, ComputeContext.cpu(dtype), null, slice)) {
            NDArray sample = st.load(tag + ".sample", m, dtype);
            NDArray ehs = st.load(tag + ".encoder_hidden_states", m, dtype);
            NDArray t = st.load(tag + ".timestep", m, null);
            Map<String, NDArray> rec = new LinkedHashMap<>();
            NDArray out = unet.forward(sample, t, ehs, rec);

            String prefix = tag + "." + d + ".";
            Map<String, Double> errors = new LinkedHashMap<>();
            errors.put("out", Fixtures.relL2(out, st.load(prefix + "out", m, dtype)));
            List<String> notRecorded = new ArrayList<>();
            for (String k : new TreeSet<>(st.keys())) {
                if (!k.startsWith(prefix) || k.equals(prefix + "out")) {
                    continue;
                }
                String module = k.substring(prefix.length());
                NDArray ours = rec.get(module);
                if (ours == null) {
                    notRecorded.add(k);
                    continue;
                }
                errors.put(module, Fixtures.relL2(ours, st.load(k, m, dtype)));
            }
            assertTrue(errors.size() > 1, name + ": no intermediates compared");
            ExtraGoldens.Verdict verdict = ExtraGoldens.judge(errors, tol);
            List<String> bad = verdict.overLimit();
            double worst = verdict.worst();
            String worstKey = verdict.worstKey();
            System.out.printf(Locale.ROOT, "[unet extra parity] %-40s out %.3e  worst %.3e (%s)%n", name,
                    errors.get("out"), worst, worstKey);
            synchronized (WORST) {
                String key = dir.getFileName() + " " + d + (slice > 0 ? " sliced" : "");
                WORST.merge(key + " out", errors.get("out"), Math::max);
                WORST.merge(key + " any", worst, Math::max);
            }
            if (!notRecorded.isEmpty()) {
                fail(name + ": golden intermediates the model does not record: " + notRecorded);
            }
            if (!bad.isEmpty()) {
                fail(name + ": relative L2 >= " + tol + " for " + bad + " (all: " + errors + ")");
            }
        }
    }

    @AfterAll
    static void printWorst() {
        System.out.println("[unet extra parity] worst relative L2 per case (out = UNet output, any = output and"
                + " intermediates):");
        WORST.forEach((k, v) -> System.out.printf(Locale.ROOT, "[unet extra parity]   %-28s %.3e%n", k, v));
    }
}
