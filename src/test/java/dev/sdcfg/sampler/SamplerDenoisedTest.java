package dev.sdcfg.sampler;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.runtime.DjlRuntime;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link Sampler#denoised}: a sample built from a known x0 and noise at a call's noise level, with that noise as the
 * (epsilon) model output, gives x0 back, for each noise-level form (sigma samplers, sigma-based alpha/sigma samplers,
 * integer-timestep samplers).
 */
class SamplerDenoisedTest {

    /**
     * x = alpha·x0 + sigmaT·eps with eps as the model output: {@code s.denoised} at call {@code i} must be x0
     * (relative L2 below 1e-6 in float64).
     */
    private static void assertRecoversX0(Sampler s, int i, double alpha, double sigmaT) {
        try (NDManager m = DjlRuntime.engine().newBaseManager(Device.cpu())) {
            NDArray x0 = m.randomNormal(0, 1, new Shape(1, 4, 3, 3), DataType.FLOAT64);
            NDArray eps = m.randomNormal(0, 1, new Shape(1, 4, 3, 3), DataType.FLOAT64);
            NDArray x = x0.mul(alpha).add(eps.mul(sigmaT));
            assertClose(x0, s.denoised(eps, i, x), s.name() + " call " + i);
        }
    }

    private static void assertClose(NDArray expected, NDArray actual, String what) {
        double[] e = expected.toDoubleArray();
        double[] a = actual.toType(DataType.FLOAT64, false).toDoubleArray();
        double num = 0;
        double den = 0;
        for (int i = 0; i < e.length; i++) {
            num += (a[i] - e[i]) * (a[i] - e[i]);
            den += e[i] * e[i];
        }
        assertTrue(Math.sqrt(num / den) < 1e-6, what + ": relative L2 " + Math.sqrt(num / den));
    }

    /** Euler, Euler ancestral, Heun (both calls of a step) and LMS: x = x0 + sigma·eps at the sigma of the call. */
    @Test
    void sigmaSamplersGiveXMinusSigmaEps() {
        for (String name : new String[] {"euler", "heun", "lms", "euler_ancestral"}) {
            try (Sampler s = SamplerBehaviourTest.make(name, null)) {
                s.setTimesteps(6);
                double[] sigmas = s.sigmas();
                for (int i = 0; i < s.timesteps().length; i++) {
                    assertRecoversX0(s, i, 1, sigmas[i]);
                }
            }
        }
    }

    /** DPM-Solver, UniPC, DEIS (sigmas): alpha = 1/sqrt(s² + 1), sigma_t = s·alpha. */
    @Test
    void sigmaBasedAlphaSigmaSamplers() {
        for (String name : new String[] {"dpmpp_2m", "unipc", "deis", "dpmpp_2s"}) {
            try (Sampler s = SamplerBehaviourTest.make(name, null)) {
                s.setTimesteps(5);
                double[] sigmas = s.sigmas();
                for (int i = 0; i < s.timesteps().length; i++) {
                    double alpha = 1 / Math.sqrt(sigmas[i] * sigmas[i] + 1);
                    assertRecoversX0(s, i, alpha, sigmas[i] * alpha);
                }
            }
        }
    }

    /**
     * DDIM and DDPM have no sigmas: the integer timestep's alphas_cumprod is used. Euler with the same "leading"
     * spacing runs the same integer timesteps, where its sigma is the training sigma sqrt((1 − ᾱ)/ᾱ) exactly.
     */
    @Test
    void integerTimestepSamplersUseAlphasCumprod() {
        try (Sampler euler = SamplerBehaviourTest.make("euler", "{\"timestep_spacing\":\"leading\"}");
             Sampler ddim = SamplerBehaviourTest.make("ddim", null);
             Sampler ddpm = SamplerBehaviourTest.make("ddpm", null)) {
            euler.setTimesteps(7);
            ddim.setTimesteps(7);
            ddpm.setTimesteps(7);
            assertArrayEquals(ddim.timesteps(), euler.timesteps());
            assertArrayEquals(ddpm.timesteps(), euler.timesteps());
            double[] sigmas = euler.sigmas();
            for (int i = 0; i < 7; i++) {
                double alpha = 1 / Math.sqrt(sigmas[i] * sigmas[i] + 1);
                assertRecoversX0(ddim, i, alpha, sigmas[i] * alpha);
                assertRecoversX0(ddpm, i, alpha, sigmas[i] * alpha);
            }
        }
    }

    /** v_prediction in the sigma form: v = alpha·eps − sigma·alpha·x0 for x = x0 + sigma·eps (diffusers' Euler). */
    @Test
    void vPredictionAndIndexChecks() {
        try (Sampler s = SamplerBehaviourTest.make("euler", "{\"prediction_type\":\"v_prediction\"}");
             NDManager m = DjlRuntime.engine().newBaseManager(Device.cpu())) {
            s.setTimesteps(4);
            double sigma = s.sigmas()[1];
            double alpha = 1 / Math.sqrt(sigma * sigma + 1);
            NDArray x0 = m.randomNormal(0, 1, new Shape(1, 4, 3, 3), DataType.FLOAT64);
            NDArray eps = m.randomNormal(0, 1, new Shape(1, 4, 3, 3), DataType.FLOAT64);
            NDArray x = x0.add(eps.mul(sigma));
            NDArray v = eps.mul(alpha).sub(x0.mul(sigma * alpha));
            assertClose(x0, s.denoised(v, 1, x), "v_prediction");
            assertThrows(IllegalArgumentException.class, () -> s.denoised(v, 4, x));
        }
    }
}
