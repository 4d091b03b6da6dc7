package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;

import java.util.List;

import static dev.sdcfg.sampler.SharedOptions.*;

/** diffusers' {@code LMSDiscreteScheduler}: linear multistep (order 4) on the Karras-style sigma ODE. */
final class LmsSampler extends SigmaSampler {

    static final String CLASS = "LMSDiscreteScheduler";

    static final TrainSchedule.Args TRAIN = TrainSchedule.args(false, false, "linear", "scaled_linear", "squaredcos_cap_v2");
    static final SamplerOption<String> PREDICTION_TYPE = predictionType("epsilon", "v_prediction", "sample");
    /** Not LMSDiscreteScheduler arguments: its exponential / beta conversions look them up in the model's config (hasattr). */
    static final SamplerOption<Double> HIDDEN_SIGMA_MIN = SIGMA_MIN.hidden();
    static final SamplerOption<Double> HIDDEN_SIGMA_MAX = SIGMA_MAX.hidden();
    static final List<SamplerOption<?>> OPTIONS = SamplerOption.list(common(TRAIN, PREDICTION_TYPE, TIMESTEP_SPACING),
            USE_KARRAS_SIGMAS, USE_EXPONENTIAL_SIGMAS, USE_BETA_SIGMAS, HIDDEN_SIGMA_MIN, HIDDEN_SIGMA_MAX);
    /** diffusers' default {@code order} argument of {@code step}. */
    static final int LMS_ORDER = 4;
    /** scipy.integrate.quad's tolerance in diffusers. */
    static final double EPS_REL = 1e-4;

    private final int stepsOffset;
    private final SigmaSchedule sigmaSchedule;
    private final List<NDArray> derivatives = newList();

    LmsSampler(String name, SamplerConfig c) {
        super(name, CLASS, c, TrainSchedule.from(c, TRAIN), c.get(PREDICTION_TYPE));
        stepsOffset = c.get(STEPS_OFFSET);
        SigmaConversion conversion = SigmaConversion.from(c);
        Double sigmaMin = c.get(HIDDEN_SIGMA_MIN);
        Double sigmaMax = c.get(HIDDEN_SIGMA_MAX);
        // LMS's _convert_to_karras ignores sigma_min/sigma_max; its exponential/beta variants consult them
        boolean cfgRange = conversion != SigmaConversion.KARRAS;
        sigmaSchedule = new SigmaSchedule(conversion, cfgRange ? sigmaMin : null, cfgRange ? sigmaMax : null);
    }

    @Override
    protected void computeTimesteps(int n) {
        double[] spaced = floatSpacing(spacing, train.numTrainTimesteps, n, stepsOffset);
        SigmaSchedule.Result s = sigmaSchedule.apply(train, spaced, n, SigmaSchedule.Range.SPACED, false);
        sigmas = withFinalSigma(s.sigmas(), 0f);
        timesteps = float32(s.timesteps());
        numInferenceSteps = n;
    }

    @Override
    protected NDArray doStep(NDArray model, int i, NDArray sample, NoiseSource noise) {
        float sigma = sigmas[i];
        NDArray derivative = keep(prediction(sigma).derivative(sample, model, sigma));
        derivatives.add(derivative);
        if (derivatives.size() > LMS_ORDER) {
            free(derivatives.remove(0));
        }
        int order = Math.min(i + 1, LMS_ORDER);
        int terms = Math.min(order, derivatives.size());
        double[] coefs = new double[terms + 1];
        NDArray[] arrays = new NDArray[terms + 1];
        coefs[0] = 1;
        arrays[0] = sample;
        for (int k = 0; k < terms; k++) {
            coefs[k + 1] = lmsCoefficient(sigmas, order, i, k);
            arrays[k + 1] = derivatives.get(derivatives.size() - 1 - k);
        }
        return lin(coefs, arrays);
    }

    /**
     * ∫_{σ_t}^{σ_{t+1}} Π_{k≠j} (τ − σ_{t−k}) / (σ_{t−j} − σ_{t−k}) dτ — diffusers' {@code get_lms_coefficient}.
     */
    static double lmsCoefficient(float[] sigmas, int order, int t, int currentOrder) {
        return Quadrature.integrate(tau -> {
            double prod = 1.0;
            for (int k = 0; k < order; k++) {
                if (k == currentOrder) {
                    continue;
                }
                prod *= (tau - sigmas[t - k]) / ((double) sigmas[t - currentOrder] - sigmas[t - k]);
            }
            return prod;
        }, sigmas[t], sigmas[t + 1], EPS_REL);
    }

    @Override
    protected void releaseHistory() {
        free(derivatives);
    }
}
