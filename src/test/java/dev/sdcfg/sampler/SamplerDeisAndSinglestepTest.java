package dev.sdcfg.sampler;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import static dev.sdcfg.sampler.SamplerBehaviourTest.assertBad;
import static dev.sdcfg.sampler.SamplerBehaviourTest.make;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * DEIS ({@code deis}) and single-step DPM-Solver ({@code dpmpp_2s}, {@code dpmpp_2s_karras}) beyond the trace goldens
 * of {@link SamplerVariantParityTest}: the order list, the lower_order_final switch, the noise-free trajectory end,
 * numpy's float32 log, seeds, and the options diffusers refuses.
 */
class SamplerDeisAndSinglestepTest {

    static NDManager manager;

    @BeforeAll
    static void start() {
        manager = DjlRuntime.engine().newBaseManager(Device.cpu());
    }

    @AfterAll
    static void stop() {
        manager.close();
    }

    private static DpmSolverSinglestepSampler single(String overrides) {
        return (DpmSolverSinglestepSampler) make("DPMSolverSinglestepScheduler", overrides);
    }

    /** {overrides, steps, diffusers' order_list after set_timesteps(steps)} (printed by diffusers' own class). */
    @Test
    void orderListMatchesDiffusers() {
        Object[][] cases = {
            {"{}", 7, new int[] {1, 2, 1, 2, 1, 2, 1}},
            {"{}", 8, new int[] {1, 2, 1, 2, 1, 2, 1, 1}},
            {"{\"solver_order\":3}", 9, new int[] {1, 2, 3, 1, 2, 3, 1, 2, 1}},
            {"{\"solver_order\":3}", 10, new int[] {1, 2, 3, 1, 2, 3, 1, 2, 3, 1}},
            {"{\"solver_order\":3}", 11, new int[] {1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 1}},
            {"{\"solver_order\":3,\"final_sigmas_type\":\"sigma_min\"}", 9, new int[] {1, 2, 3, 1, 2, 3, 1, 2, 3}},
            {"{\"final_sigmas_type\":\"sigma_min\"}", 8, new int[] {1, 2, 1, 2, 1, 2, 1, 2}},
            {"{\"final_sigmas_type\":\"sigma_min\",\"lower_order_final\":true}", 8, new int[] {1, 2, 1, 2, 1, 2, 1, 1}},
            {"{\"solver_order\":1}", 3, new int[] {1, 1, 1}},
            {"{\"solver_order\":3}", 1, new int[] {1}},
            {"{\"solver_order\":3}", 2, new int[] {1, 1}},
            {"{\"solver_order\":3}", 3, new int[] {1, 2, 1}},
        };
        for (Object[] c : cases) {
            try (DpmSolverSinglestepSampler s = single((String) c[0])) {
                s.setTimesteps((int) c[1]);
                assertArrayEquals((int[]) c[2], s.orderList(), c[0] + " steps=" + c[1]);
            }
        }
    }

    @Test
    void lowerOrderFinalIsSwitchedOnForGood() {
        // diffusers' set_timesteps registers lower_order_final=True when the steps do not divide by the order
        try (DpmSolverSinglestepSampler s = single("{\"final_sigmas_type\":\"sigma_min\"}")) {
            s.setTimesteps(7);
            assertArrayEquals(new int[] {1, 2, 1, 2, 1, 2, 1}, s.orderList());
            s.setTimesteps(8);
            assertArrayEquals(new int[] {1, 2, 1, 2, 1, 2, 1, 1}, s.orderList());
        }
        try (DpmSolverSinglestepSampler fresh = single("{\"final_sigmas_type\":\"sigma_min\"}")) {
            fresh.setTimesteps(8);
            assertArrayEquals(new int[] {1, 2, 1, 2, 1, 2, 1, 2}, fresh.orderList());
        }
    }

    @Test
    void timestepsAndSigmasFollowDiffusers() {
        try (Sampler s = make("dpmpp_2s", null)) {
            s.setTimesteps(7);
            // always linspace (the SD config's steps_offset is not an option of this class)
            assertArrayEquals(new double[] {999, 856, 714, 571, 428, 285, 143}, s.timesteps());
            assertEquals(0.0, s.sigmas()[7]);
        }
        try (Sampler s = make("dpmpp_2s_karras", null)) {
            s.setTimesteps(7);
            assertArrayEquals(new double[] {999, 868, 687, 427, 146, 18, 0}, s.timesteps());
        }
        try (Sampler s = make("deis", "{\"timestep_spacing\":\"leading\"}")) {
            s.setTimesteps(4);
            assertArrayEquals(new double[] {801, 601, 401, 201}, s.timesteps());
            // the sigma after the last step is sigma_min of the training schedule
            assertEquals(0.0292, s.sigmas()[4], 1e-4);
        }
        try (Sampler s = make("deis", "{\"use_karras_sigmas\":true}")) {
            s.setTimesteps(5);
            double[] sig = s.sigmas();
            // Karras: the last sigma repeated (diffusers concatenates sigmas[-1:]), so the last step changes nothing
            assertEquals(sig[4], sig[5]);
        }
    }

    /**
     * An ideal model (it returns the exact epsilon / v / x0 of the current noisy sample) must take every
     * configuration exactly to the noise-free end of its trajectory, alpha·(x0 + sigma_last·eps). (The worst case,
     * about 5e-6, is third-order DEIS over 20 trailing steps: its float32 coefficients are differences of nearly
     * equal ind_fn values, in diffusers as here.)
     */
    @Test
    void idealDenoiserReachesTheTrajectoryEnd() {
        List<String[]> cases = new ArrayList<>();
        for (String pred : new String[] {"epsilon", "v_prediction", "sample"}) {
            String p = "\"prediction_type\":\"" + pred + "\"";
            cases.add(new String[] {"deis", "{" + p + "}"});
            cases.add(new String[] {"deis", "{" + p + ",\"solver_order\":3,\"timestep_spacing\":\"trailing\"}"});
            cases.add(new String[] {"deis", "{" + p + ",\"solver_order\":3,\"use_karras_sigmas\":true,\"lower_order_final\":false}"});
            cases.add(new String[] {"dpmpp_2s", "{" + p + "}"});
            cases.add(new String[] {"dpmpp_2s_karras", "{" + p + ",\"solver_order\":3,\"solver_type\":\"heun\"}"});
            cases.add(new String[] {"dpmpp_2s", "{" + p + ",\"final_sigmas_type\":\"sigma_min\",\"lower_order_final\":false}"});
            cases.add(new String[] {"DPMSolverSinglestepScheduler", "{" + p + ",\"algorithm_type\":\"dpmsolver\",\"final_sigmas_type\":\"sigma_min\"}"});
            cases.add(new String[] {"DPMSolverSinglestepScheduler", "{" + p + ",\"algorithm_type\":\"dpmsolver\",\"solver_order\":3,"
                    + "\"solver_type\":\"heun\",\"final_sigmas_type\":\"sigma_min\"}"});
        }
        double worst = 0;
        for (String[] c : cases) {
            for (int steps : new int[] {5, 8, 20}) {
                double err = idealRun(c[0], c[1], steps);
                worst = Math.max(worst, err);
                assertTrue(err < 1e-5, c[0] + " " + c[1] + " steps=" + steps + ": rel err " + err);
            }
        }
        System.out.printf(Locale.ROOT, "[ideal denoiser] deis / dpmpp_2s: %d configurations, worst rel err %.2e%n", cases.size(), worst);
    }

    private static double idealRun(String name, String overrides, int steps) {
        try (Sampler s = make(name, overrides); NDManager m = manager.newSubManager()) {
            s.setTimesteps(steps);
            String pred = SamplerBehaviourTest.json(overrides).get("prediction_type").getAsString();
            DjlRuntime.seed(3);
            NDArray x0 = m.randomNormal(0, 1, new Shape(2, 4, 6, 6), DataType.FLOAT64);
            NDArray eps = m.randomNormal(0, 1, new Shape(2, 4, 6, 6), DataType.FLOAT64);
            double[] sig = s.sigmas();
            NDArray x = x0.add(eps.mul(sig[0])).mul(1 / Math.sqrt(1 + sig[0] * sig[0]));
            for (int i = 0; i < s.timesteps().length; i++) {
                try (NDScope scope = new NDScope()) {
                    scope.suppressNotUsedWarning();
                    double a = 1 / Math.sqrt(1 + sig[i] * sig[i]);
                    double b = sig[i] * a;
                    NDArray epsHat = x.sub(x0.mul(a)).div(b);
                    NDArray out = switch (pred) {
                        case "epsilon" -> epsHat;
                        case "v_prediction" -> epsHat.mul(a).sub(x0.mul(b));
                        default -> x0.duplicate();
                    };
                    NDArray next = s.step(out, i, x, NoiseSource.NONE);
                    NDScope.unregister(next);
                    x.close();
                    x = next;
                }
            }
            double last = sig[sig.length - 1];
            return Fixtures.relL2(x, x0.add(eps.mul(last)).mul(1 / Math.sqrt(1 + last * last)));
        }
    }

    @Test
    void numpyLogIsReproducedBitForBit() {
        // {x, np.log(x)} as float32 bit patterns, from numpy 1.24 on x86-64 (AVX2/FMA3 loop); at √½ and the last
        // four inputs numpy's result is one ulp off the correctly rounded logarithm
        int[][] cases = {
            {0x3f800000, 0x00000000}, {0x40000000, 0x3f317218}, {0x3f000000, 0xbf317218},
            {0x3f3504f3, 0xbeb17218}, {0x00000001, 0xc2ce8ed0}, {0x7f7fffff, 0x42b17218},
            {0x3f8b4608, 0x3dacdf0b}, {0x41627205, 0x40299836}, {0x4096f9a5, 0x3fc6939a}, {0x41959957, 0x403b6cd2},
        };
        for (int[] c : cases) {
            float x = Float.intBitsToFloat(c[0]);
            assertEquals(Float.intBitsToFloat(c[1]), ScheduleMath.numpyLogf(x), "log(" + x + ")");
        }
        assertTrue(Float.isNaN(ScheduleMath.numpyLogf(-1f)));
        assertEquals(Float.NEGATIVE_INFINITY, ScheduleMath.numpyLogf(0f));
        assertEquals(Float.POSITIVE_INFINITY, ScheduleMath.numpyLogf(Float.POSITIVE_INFINITY));
        // it is not the correctly rounded log: about one float in ten differs by an ulp or more
        int differs = 0;
        for (int i = 0; i < 1000; i++) {
            float x = 0.5f + i / 1000f;
            float a = ScheduleMath.numpyLogf(x);
            float b = ScheduleMath.logf(x);
            assertTrue(Math.abs(a - b) <= 4 * Math.ulp(b), "log(" + x + "): " + a + " vs " + b);
            differs += a != b ? 1 : 0;
        }
        assertTrue(differs > 20, "numpy's log differs from the correctly rounded one at " + differs + " of 1000 points");
    }

    @Test
    void sdeVariantIsStochasticAndReproducible() {
        String sde = "{\"algorithm_type\":\"sde-dpmsolver++\",\"solver_order\":3}";
        try (Sampler s = make("dpmpp_2s", sde)) {
            assertTrue(s.isStochastic());
            DjlRuntime.seed(42);
            double[] a = SamplerBehaviourTest.run(s, NoiseSource.ENGINE_CPU, manager);
            DjlRuntime.seed(42);
            double[] b = SamplerBehaviourTest.run(s, NoiseSource.ENGINE_CPU, manager);
            assertArrayEquals(a, b, 0.0);
            DjlRuntime.seed(43);
            double[] c = SamplerBehaviourTest.run(s, NoiseSource.ENGINE_CPU, manager);
            assertTrue(Math.abs(c[0] - a[0]) > 1e-9, "the seed is ignored");
        }
        try (Sampler s = make("dpmpp_2s", null); Sampler d = make("deis", null)) {
            assertFalse(s.isStochastic());
            assertFalse(d.isStochastic());
            s.setTimesteps(3);
            NDArray x = manager.zeros(new Shape(1, 4, 2, 2), DataType.FLOAT32);
            s.step(x, 0, x, null); // deterministic: no noise source needed
        }
    }

    @Test
    void startingMidScheduleUsesTheOutputsThereAre() {
        // img2img starts at a later index; an order-2 step there falls back to order 1 (diffusers'
        // "while self.model_outputs[-order] is None: order -= 1") and remembers its sample
        try (Sampler s = make("dpmpp_2s", "{\"solver_order\":3}"); Sampler ref = make("dpmpp_2s", "{\"solver_order\":1}")) {
            s.setTimesteps(10);
            ref.setTimesteps(10);
            NDArray x = manager.ones(new Shape(1, 2, 2, 2), DataType.FLOAT64);
            NDArray eps = x.mul(0.3);
            // index 2 has order 3 in [1, 2, 3, ...]: with no history both take a first-order step
            assertArrayEquals(ref.step(eps, 2, x, null).toDoubleArray(), s.step(eps, 2, x, null).toDoubleArray(), 0.0);
        }
    }

    @Test
    void refusedOptionsNameTheOption() {
        assertBad("dpmpp_2s", "{\"timestep_spacing\":\"trailing\"}", "'timestep_spacing'");
        assertBad("dpmpp_2s", "{\"steps_offset\":1}", "'steps_offset'");
        assertBad("dpmpp_2s", "{\"algorithm_type\":\"sde-dpmsolver\"}", "'algorithm_type' = sde-dpmsolver");
        assertBad("dpmpp_2s", "{\"algorithm_type\":\"dpm\"}", "'algorithm_type'");
        assertBad("dpmpp_2s", "{\"algorithm_type\":\"dpmsolver\"}", "'final_sigmas_type'");
        assertBad("dpmpp_2s", "{\"algorithm_type\":\"dpmsolver\",\"final_sigmas_type\":\"sigma_min\",\"thresholding\":true}",
                "'thresholding'");
        assertBad("dpmpp_2s", "{\"solver_order\":4}", "'solver_order'");
        assertBad("dpmpp_2s", "{\"solver_type\":\"euler\"}", "'solver_type'");
        assertBad("dpmpp_2s", "{\"variance_type\":\"learned_range\"}", "'variance_type'");
        assertBad("dpmpp_2s", "{\"use_flow_sigmas\":true}", "'use_flow_sigmas'");
        assertBad("dpmpp_2s", "{\"prediction_type\":\"flow_prediction\"}", "'prediction_type'");
        assertBad("dpmpp_2s", "{\"rescale_betas_zero_snr\":true}", "'rescale_betas_zero_snr'");
        assertBad("deis", "{\"algorithm_type\":\"sde-dpmsolver++\"}", "'algorithm_type'");
        assertBad("deis", "{\"solver_type\":\"euler\"}", "'solver_type'");
        assertBad("deis", "{\"solver_order\":0}", "'solver_order'");
        assertBad("deis", "{\"final_sigmas_type\":\"zero\"}", "'final_sigmas_type'");
        assertBad("deis", "{\"use_karras_sigmas\":true,\"use_beta_sigmas\":true}", "use_karras_sigmas");
        assertBad("deis", "{\"use_dynamic_shifting\":true}", "'use_dynamic_shifting'");
        // diffusers' own aliases are accepted
        try (Sampler d = make("deis", "{\"algorithm_type\":\"dpmsolver++\",\"solver_type\":\"midpoint\"}");
                Sampler s = make("dpmpp_2s", "{\"algorithm_type\":\"deis\",\"solver_type\":\"logrho\"}")) {
            d.setTimesteps(3);
            s.setTimesteps(3);
        }
        assertThrows(IllegalArgumentException.class, () -> make("deis", null).setTimesteps(0));
    }
}
