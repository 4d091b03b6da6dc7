package dev.sdcfg.model.clip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * CLIP text-encoder parity on extra configs (test resources {@code parity-extra/clip/<case>/}: config.json,
 * model.safetensors with transformers 4.x's {@code text_model.} keys, {@code golden.safetensors}, notes.json),
 * computed by transformers' own CLIPTextModel source (tools/clip-goldens): an SD 2.x-style {@code gelu} model and a
 * {@code quick_gelu} one with other sizes. For each case, dtype (f64, f32) and run tag, on {@code <tag>.input_ids}
 * (padded with id 0 as SD 2.x's tokenizer pads, or with EOS): {@link ClipTextModel#hiddenStates} against every
 * {@code <tag>.<d>.hidden_states.K}, {@link ClipTextModel#forward}'s last and penultimate states against
 * {@code last_hidden_state} and {@code hidden_states.(N−1)}, {@code encode(ids, 0)} against
 * {@code last_hidden_state} and {@code encode(ids, 1)} against {@code clip_skip_1} (final_layer_norm of
 * hidden_states[-2], as diffusers' encode_prompt computes it). Relative L2 below 1e-6 (fp64) / 1e-4 (fp32); every
 * golden key of the run must be checked.
 */
class ClipExtraParityTest {

    private static final Map<String, Double> WORST = new TreeMap<>();

    static Path root() {
        return ExtraGoldens.root("clip");
    }

    @TestFactory
    List<DynamicTest> parity() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (Path dir : ExtraGoldens.cases("clip")) {
            List<String> tags = ExtraGoldens.tags(dir, ".input_ids");
            for (ExtraGoldens.Precision p : ExtraGoldens.PRECISIONS) {
                for (String tag : tags) {
                    String name = dir.getFileName() + " " + p.name() + " " + tag;
                    tests.add(DynamicTest.dynamicTest(name, () -> check(dir, name, tag, p.name(), p.dtype(), p.limit())));
                }
            }
        }
        return tests;
    }

    private static void check(Path dir, String name, String tag, String d, DataType dtype, double tol)
            throws IOException {
        String prefix = tag + "." + d + ".";
        Map<String, Double> errors = new LinkedHashMap<>();
        try (Safetensors st = Safetensors.open(dir.resolve("golden.safetensors"));
             NDManager m = NDManager.newBaseManager(DjlRuntime.engine().defaultDevice());
             ClipTextModel model = ClipTextModel.load(dir, null, ComputeContext.cpu(dtype))) {
            int n = model.numLayers();
            NDArray ids = st.load(tag + ".input_ids", m, null);
            NDList hs = model.hiddenStates(ids);
            assertEquals(n + 1, hs.size(), name + ": hidden states");
            List<String> used = new ArrayList<>();
            for (int k = 0; k <= n; k++) {
                String key = prefix + "hidden_states." + k;
                if (st.contains(key)) {
                    errors.put("hidden_states." + k, Fixtures.relL2(hs.get(k), st.load(key, m, dtype)));
                    used.add(key);
                }
            }
            String penKey = prefix + "hidden_states." + (n - 1);
            assertTrue(st.contains(penKey), name + ": golden lacks " + penKey);
            NDArray refPen = st.load(penKey, m, dtype);
            NDArray refLast = st.load(prefix + "last_hidden_state", m, dtype);
            NDArray refSkip1 = st.load(prefix + "clip_skip_1", m, dtype);
            used.add(prefix + "last_hidden_state");
            used.add(prefix + "clip_skip_1");

            ClipTextModel.Output out = model.forward(ids);
            assertEquals(dtype, out.lastHiddenState().getDataType(), name + ": output dtype");
            errors.put("last_hidden_state", Fixtures.relL2(out.lastHiddenState(), refLast));
            errors.put("forward.penultimate", Fixtures.relL2(out.penultimateHiddenState(), refPen));
            errors.put("encode(ids, 0)", Fixtures.relL2(model.encode(ids, 0), refLast));
            errors.put("encode(ids, 1)", Fixtures.relL2(model.encode(ids, 1), refSkip1));

            List<String> unchecked = new ArrayList<>();
            for (String k : new TreeSet<>(st.keys())) {
                if (k.startsWith(prefix) && !used.contains(k)) {
                    unchecked.add(k);
                }
            }
            if (!unchecked.isEmpty()) {
                fail(name + ": golden keys not checked: " + unchecked);
            }
        }
        ExtraGoldens.Verdict verdict = ExtraGoldens.judge(errors, tol);
        List<String> bad = verdict.overLimit();
        double worst = verdict.worst();
        String worstKey = verdict.worstKey();
        System.out.printf(Locale.ROOT, "[clip extra parity] %-28s last %.3e  worst %.3e (%s) of %d%n", name,
                errors.get("last_hidden_state"), worst, worstKey, errors.size());
        synchronized (WORST) {
            String key = dir.getFileName() + " " + d;
            WORST.merge(key + " last", errors.get("last_hidden_state"), Math::max);
            WORST.merge(key + " any", worst, Math::max);
        }
        if (!bad.isEmpty()) {
            fail(name + ": relative L2 >= " + tol + " for " + bad + " (all: " + errors + ")");
        }
    }

    @AfterAll
    static void printWorst() {
        System.out.println("[clip extra parity] worst relative L2 per case (any = all hidden states and outputs):");
        WORST.forEach((k, v) -> System.out.printf(Locale.ROOT, "[clip extra parity]   %-28s %.3e%n", k, v));
    }
}
