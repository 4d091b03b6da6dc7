package dev.sdcfg.sampler;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Replays every run of {@code schedulers/summary.json} (goldens from diffusers) with the closed-form stand-in for
 * the UNet, {@code eps = 0.3 * model_input + 0.05 * (t / 1000)}, in float64, and compares the schedule and every
 * model input and step output. Runs are mapped generically from the diffusers class name and
 * {@code base_config + config_extra}; stochastic runs seed the engine with 11 before the loop.
 */
class SamplerTraceParityTest {

    static final double TOL = 1e-5;
    /** Absolute tolerance on timesteps (float32 values; sigma-derived ones go through a float32 log). */
    static final double TIMESTEP_TOL = 1e-3;

    @TestFactory
    List<DynamicTest> goldenRuns() throws IOException {
        return runsIn(Fixtures.golden().resolve("schedulers"));
    }

    /** One dynamic test per run of {@code dir/summary.json}. */
    static List<DynamicTest> runsIn(Path dir) throws IOException {
        JsonObject summary = JsonParser.parseString(Files.readString(dir.resolve("summary.json"), StandardCharsets.UTF_8))
                .getAsJsonObject();
        JsonObject base = summary.getAsJsonObject("base_config");
        List<DynamicTest> tests = new ArrayList<>();
        for (Map.Entry<String, JsonElement> e : summary.getAsJsonObject("runs").entrySet()) {
            String run = e.getKey();
            JsonObject spec = e.getValue().getAsJsonObject();
            tests.add(DynamicTest.dynamicTest(run, () -> replay(dir, run, base, spec)));
        }
        assertTrue(tests.size() > 0, "no runs in " + dir.resolve("summary.json"));
        return tests;
    }

    static int inferenceSteps(String run, JsonObject spec) {
        for (String k : new String[] {"num_inference_steps", "steps"}) {
            if (spec.has(k)) {
                return spec.get(k).getAsInt();
            }
        }
        Matcher m = Pattern.compile("_(\\d+)$").matcher(run);
        if (!m.find()) {
            throw new IllegalStateException("run " + run + ": cannot tell the number of inference steps");
        }
        return Integer.parseInt(m.group(1));
    }

    static void replay(Path dir, String run, JsonObject base, JsonObject spec) throws IOException {
        JsonObject config = base.deepCopy();
        if (spec.has("config_extra") && spec.get("config_extra").isJsonObject()) {
            spec.getAsJsonObject("config_extra").entrySet().forEach(x -> config.add(x.getKey(), x.getValue()));
        }
        // step() keyword arguments (DDIM's eta, Euler's s_churn, ...) are sampler options here
        if (spec.has("step_kwargs") && spec.get("step_kwargs").isJsonObject()) {
            spec.getAsJsonObject("step_kwargs").entrySet().forEach(x -> config.add(x.getKey(), x.getValue()));
        }
        String cls = spec.get("class").getAsString();
        int steps = inferenceSteps(run, spec);
        DjlRuntime.engine();
        try (Sampler sampler = SamplerFactory.createFromClass(cls, config);
                Safetensors g = Safetensors.open(dir.resolve(run + ".safetensors"));
                NDManager manager = DjlRuntime.engine().newBaseManager(Device.cpu())) {
            sampler.setTimesteps(steps);
            double[] ts = sampler.timesteps();
            double[] goldTs = g.load("timesteps", manager, DataType.FLOAT64).toDoubleArray();
            double tsErr = maxAbs(ts, goldTs, run + " timesteps");
            if (spec.has("n_model_calls")) {
                assertEquals(spec.get("n_model_calls").getAsInt(), ts.length, run + ": model calls");
            }
            double sigErr = 0;
            if (g.contains("sigmas")) {
                double[] goldSig = g.load("sigmas", manager, DataType.FLOAT64).toDoubleArray();
                double[] sig = sampler.sigmas();
                assertEquals(goldSig.length, sig == null ? -1 : sig.length, run + ": sigmas length");
                sigErr = Fixtures.relL2(sig, goldSig);
                assertTrue(sigErr < TOL, run + ": sigmas rel err " + sigErr);
            }
            if (spec.has("init_noise_sigma")) {
                double want = spec.get("init_noise_sigma").getAsDouble();
                assertEquals(want, sampler.initNoiseSigma(), Math.abs(want) * 1e-6, run + ": init_noise_sigma");
            }

            NDArray x = g.load("x_init", manager, DataType.FLOAT64);
            double worstIn = 0;
            double worstPrev = 0;
            String worstAt = "";
            DjlRuntime.seed(11);
            for (int i = 0; i < ts.length; i++) {
                String key = String.format(Locale.ROOT, "step%03d", i);
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    NDArray in = sampler.scaleModelInput(x, i);
                    double eIn = compare(in, g.load(key + ".model_input", manager, DataType.FLOAT64));
                    NDArray eps = in.mul(0.3).add(0.05 * (ts[i] / 1000.0));
                    NDArray next = sampler.step(eps, i, x, NoiseSource.ENGINE_CPU);
                    double ePrev = compare(next, g.load(key + ".prev_sample", manager, DataType.FLOAT64));
                    if (eIn > worstIn) {
                        worstIn = eIn;
                    }
                    if (ePrev > worstPrev) {
                        worstPrev = ePrev;
                        worstAt = key;
                    }
                    if (!(eIn < TOL) || !(ePrev < TOL)) {
                        fail(String.format(Locale.ROOT, "%s %s: model_input rel err %.3e, prev_sample rel err %.3e", run, key, eIn, ePrev));
                    }
                    NDScope.unregister(next);
                    x.close();
                    x = next;
                }
            }
            double eFinal = compare(x, g.load("x_final", manager, DataType.FLOAT64));
            System.out.printf(Locale.ROOT, "[sampler parity] %-22s %-32s calls=%3d  timesteps maxabs=%.2e  sigmas=%.2e  "
                    + "model_input=%.2e  prev_sample=%.2e (%s)  x_final=%.2e%n", run, cls, ts.length, tsErr, sigErr, worstIn,
                    worstPrev, worstAt, eFinal);
            assertTrue(eFinal < TOL, run + ": x_final rel err " + eFinal);
        }
    }

    /**
     * Relative L2 error. Degenerate configurations can make diffusers itself produce inf/NaN (UniPC at a final
     * sigma of 0 with solver_type bh1, or with lower_order_final off: 0·inf and x/0 in its coefficients); those
     * golden entries carry no value to compare, so only the finite ones are compared.
     */
    static double compare(NDArray ours, NDArray golden) {
        double[] a = ours.toType(DataType.FLOAT64, false).toDoubleArray();
        double[] b = golden.toDoubleArray();
        assertEquals(golden.getShape(), ours.getShape());
        List<Double> fa = new ArrayList<>();
        List<Double> fb = new ArrayList<>();
        for (int i = 0; i < a.length; i++) {
            if (Double.isFinite(b[i])) {
                fa.add(a[i]);
                fb.add(b[i]);
            }
        }
        if (fb.size() == b.length) {
            return Fixtures.relL2(a, b);
        }
        System.out.println("[sampler parity] note: diffusers produced " + (b.length - fb.size()) + " non-finite values here");
        return fb.isEmpty() ? 0 : Fixtures.relL2(fa.stream().mapToDouble(Double::doubleValue).toArray(),
                fb.stream().mapToDouble(Double::doubleValue).toArray());
    }

    static double maxAbs(double[] ours, double[] gold, String what) {
        if (ours.length != gold.length) {
            assertArrayEquals(gold, ours, what + " (length " + ours.length + " vs " + gold.length + ")");
        }
        double m = 0;
        for (int i = 0; i < ours.length; i++) {
            double d = Math.abs(ours[i] - gold[i]);
            if (!(d <= TIMESTEP_TOL)) {
                fail(what + "[" + i + "]: " + ours[i] + " vs golden " + gold[i]);
            }
            m = Math.max(m, d);
        }
        return m;
    }
}
