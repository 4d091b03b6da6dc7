package dev.sdcfg.guidance;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every output in guidance.safetensors, recomputed through the public path (spec JSON → plan → guide) from the
 * golden u and t. Keys are discovered from the file and decoded into normalizer, parameters and g; an
 * undecodable key fails the test rather than being skipped.
 */
class GuidanceOpsParityTest {

    private static final String NUM = "(-?\\d+(?:\\.\\d+)?)";
    private static final Pattern NOTEBOOK = Pattern.compile("(CFGuidance|BaseNormGuidance|TNormGuidance|FullNormGuidance)\\.g" + NUM);
    private static final Pattern RESCALE = Pattern.compile("rescale" + NUM + "\\.g" + NUM);
    private static final Pattern APG = Pattern.compile("apg\\.eta" + NUM + "\\.thr" + NUM + "\\.g" + NUM);
    private static final Pattern APG_MOMENTUM = Pattern.compile("apg\\.momentum" + NUM + "\\.call(\\d+)\\.g" + NUM);
    private static final Pattern ZERO_STAR = Pattern.compile("cfgzerostar\\.g" + NUM);

    /** A golden key decoded: the spec that should reproduce it and how many successive calls (momentum). */
    record Case(String key, JsonObject spec, int calls) {
    }

    static Case decode(String key) {
        JsonObject s = new JsonObject();
        Matcher m;
        int calls = 1;
        if ((m = NOTEBOOK.matcher(key)).matches()) {
            String n = switch (m.group(1)) {
                case "CFGuidance" -> "none";
                case "BaseNormGuidance" -> "basenorm";
                case "TNormGuidance" -> "tnorm";
                default -> "fullnorm";
            };
            s.addProperty("normalizer", n);
            s.addProperty("g", Double.parseDouble(m.group(2)));
        } else if ((m = RESCALE.matcher(key)).matches()) {
            s.addProperty("normalizer", "rescale");
            s.addProperty("phi", Double.parseDouble(m.group(1)));
            s.addProperty("g", Double.parseDouble(m.group(2)));
        } else if ((m = APG.matcher(key)).matches()) {
            // normalized_guidance(..., momentum_buffer=None, eta, norm_threshold)
            s.addProperty("normalizer", "apg");
            s.addProperty("eta", Double.parseDouble(m.group(1)));
            s.addProperty("norm_threshold", Double.parseDouble(m.group(2)));
            s.addProperty("momentum", 0.0);
            s.addProperty("g", Double.parseDouble(m.group(3)));
        } else if ((m = APG_MOMENTUM.matcher(key)).matches()) {
            // normalized_guidance(..., MomentumBuffer(m)) with the function's defaults eta=1, norm_threshold=0;
            // call k is the (k+1)-th call sharing one buffer
            s.addProperty("normalizer", "apg");
            s.addProperty("momentum", Double.parseDouble(m.group(1)));
            s.addProperty("eta", 1.0);
            s.addProperty("norm_threshold", 0.0);
            s.addProperty("g", Double.parseDouble(m.group(3)));
            calls = Integer.parseInt(m.group(2)) + 1;
        } else if ((m = ZERO_STAR.matcher(key)).matches()) {
            s.addProperty("normalizer", "cfg-zero-star");
            s.addProperty("g", Double.parseDouble(m.group(1)));
        } else {
            return null;
        }
        return new Case(key, s, calls);
    }

    @Test
    void float64MatchesEveryKey() throws IOException {
        run(DataType.FLOAT64, 1e-12);
    }

    @Test
    void float32MatchesEveryKey() throws IOException {
        run(DataType.FLOAT32, 1e-6);
    }

    private void run(DataType dtype, double tol) throws IOException {
        try (Safetensors st = Safetensors.open(Fixtures.golden().resolve("guidance.safetensors"));
             NDManager m = DjlRuntime.engine().newBaseManager(Device.cpu())) {
            NDArray u = st.load("u", m, dtype);
            NDArray t = st.load("t", m, dtype);
            List<String> failures = new ArrayList<>();
            int checked = 0;
            double worst = 0;
            String worstKey = "";
            for (String key : st.keys()) {
                if (key.equals("u") || key.equals("t")) {
                    continue;
                }
                NDArray ref = st.load(key, m, DataType.FLOAT64);
                double err;
                if (key.equals("cfgzerostar.alpha")) {
                    NDArray eps = m.create(1e-8f);
                    err = Fixtures.relL2(Transforms.alpha(t, u, new int[] {1, 2, 3}, eps), ref);
                } else {
                    Case c = decode(key);
                    if (c == null) {
                        fail("golden key '" + key + "' is not understood by this test");
                    }
                    GuidanceSpec spec = GuidanceSpec.parse(c.spec());
                    NDArray out = null;
                    try (GuidancePlan plan = spec.plan(c.calls())) {
                        for (int i = 0; i < c.calls(); i++) {
                            out = plan.guide(i, u, t);
                        }
                        assertEquals(dtype, out.getDataType());
                        err = Fixtures.relL2(out, ref);
                    }
                }
                checked++;
                System.out.printf(Locale.ROOT, "%s %-32s relL2 %.3e%n", dtype, key, err);
                if (!(err <= tol)) {
                    failures.add(key + " relL2 " + err);
                }
                if (!(err <= worst)) {
                    worst = err;
                    worstKey = key;
                }
            }
            System.out.printf(Locale.ROOT, "%s: %d keys, worst relL2 %.3e (%s)%n", dtype, checked, worst, worstKey);
            assertEquals(st.keys().size() - 2, checked);
            assertTrue(checked >= 43, "expected the full golden set, checked " + checked);
            assertTrue(failures.isEmpty(), dtype + " above " + tol + ": " + failures);
        }
    }
}
