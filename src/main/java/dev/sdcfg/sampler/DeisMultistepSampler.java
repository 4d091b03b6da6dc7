package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;

import java.util.List;

import static dev.sdcfg.sampler.SamplerOption.choice;
import static dev.sdcfg.sampler.SharedOptions.*;

/**
 * diffusers' {@code DEISMultistepScheduler}: the log-rho multistep DEIS solver (Zhang &amp; Chen), orders 1–3, on
 * noise predictions. The model output is turned into x0 (thresholded if asked) and back into the noise it implies;
 * each step integrates the exponential integrator's polynomial extrapolation of those noises in log(sigma/alpha).
 * Like diffusers, the step runs in the sample's dtype (no float32 upcast) with float32 scalar coefficients.
 *
 * <p>diffusers' schedule quirks are kept: the sigma after the last step is sigma_min of the training schedule for the
 * spaced timesteps but the last converted sigma itself for Karras / exponential / beta sigmas (so that last step
 * leaves the sample unchanged); Karras timesteps are always rounded.
 */
final class DeisMultistepSampler extends AbstractSampler {

    static final String CLASS = "DEISMultistepScheduler";

    static final TrainSchedule.Args TRAIN = TrainSchedule.args(false, false, "linear", "scaled_linear", "squaredcos_cap_v2");
    /** diffusers maps the DPM-Solver names onto "deis" and the other solver types onto "logrho". */
    static final SamplerOption<String> ALGORITHM_TYPE = choice("algorithm_type", "deis", List.of("deis", "dpmsolver", "dpmsolver++"),
            "all mean deis");
    static final SamplerOption<String> SOLVER_TYPE = choice("solver_type", "logrho", List.of("logrho", "midpoint", "heun", "bh1", "bh2"),
            "all mean logrho");
    static final List<SamplerOption<?>> OPTIONS = SamplerOption.list(common(TRAIN, MULTISTEP_PREDICTION_TYPE, TIMESTEP_SPACING),
            SIGMA_OPTIONS, SOLVER_ORDER, ALGORITHM_TYPE, SOLVER_TYPE, LOWER_ORDER_FINAL, THRESHOLDING, DYNAMIC_THRESHOLDING_RATIO,
            SAMPLE_MAX_VALUE, FLOW_OPTIONS);

    private final int solverOrder;
    private final String predictionType;
    private final boolean lowerOrderFinal;
    private final String spacing;
    private final int stepsOffset;
    private final SigmaSchedule sigmaSchedule;
    private final X0Clamp clamp;

    private final NDArray[] modelOutputs;
    private int lowerOrderNums;

    DeisMultistepSampler(String name, SamplerConfig c) {
        super(name, CLASS, c, TrainSchedule.from(c, TRAIN));
        solverOrder = solverOrder(c);
        predictionType = multistepPredictionType(c);
        c.get(ALGORITHM_TYPE);
        c.get(SOLVER_TYPE);
        lowerOrderFinal = c.get(LOWER_ORDER_FINAL);
        SigmaConversion conversion = SigmaConversion.from(c);
        refuseFlowMatching(c);
        spacing = c.get(TIMESTEP_SPACING);
        stepsOffset = c.get(STEPS_OFFSET);
        sigmaSchedule = new SigmaSchedule(conversion, c.get(SIGMA_MIN), c.get(SIGMA_MAX));
        clamp = X0Clamp.thresholdOnly(c);
        modelOutputs = new NDArray[solverOrder];
    }

    @Override
    protected String modelPredictionType() {
        return predictionType;
    }

    @Override
    protected void computeTimesteps(int n) {
        int T = train.numTrainTimesteps;
        double[] spaced = multistepSpacing(spacing, T, T, n, stepsOffset);
        SigmaSchedule.Result s = sigmaSchedule.apply(train, spaced, n, SigmaSchedule.Range.TRAINING, true);
        double[] ts = s.timesteps();
        double[] sig = s.sigmas();
        float last = sigmaSchedule.converts() ? (float) sig[sig.length - 1] : ScheduleMath.sigmaFromAlphaCumprod(train.alphasCumprod[0]);
        sigmas = withFinalSigma(sig, last);
        timesteps = int64(ts);
        numInferenceSteps = n;
    }

    /** The noise implied by the (thresholded) x0 prediction: eps = (x − alpha·x0) / sigma. */
    private NDArray convertModelOutput(NDArray model, NDArray sample, int i) {
        float[] as = alphaSigma(sigmas[i]);
        NDArray x0 = clamp.apply(Prediction.AlphaSigma.of(predictionType, as[0], as[1]).x0(sample, model));
        return Prediction.AlphaSigma.epsFromX0(sample, x0, as[0], as[1]);
    }

    @Override
    protected NDArray doStep(NDArray model, int i, NDArray sample, NoiseSource noise) {
        int len = timesteps.length;
        boolean lowerFinal = i == len - 1 && lowerOrderFinal && len < 15;
        boolean lowerSecond = i == len - 2 && lowerOrderFinal && len < 15;
        NDArray converted = keep(convertModelOutput(model, sample, i));
        push(modelOutputs, converted);
        NDArray prev;
        if (solverOrder == 1 || lowerOrderNums < 1 || lowerFinal) {
            prev = firstOrder(converted, i, sample);
        } else if (solverOrder == 2 || lowerOrderNums < 2 || lowerSecond) {
            prev = secondOrder(i, sample);
        } else {
            prev = thirdOrder(i, sample);
        }
        if (lowerOrderNums < solverOrder) {
            lowerOrderNums++;
        }
        return prev;
    }

    /** DDIM-equivalent step: x_t = (alpha_t / alpha_s)·x − sigma_t·(e^h − 1)·eps. */
    private NDArray firstOrder(NDArray m0, int i, NDArray x) {
        float[] t = alphaSigma(sigmas[i + 1]);
        float[] s = alphaSigma(sigmas[i]);
        float h = lambda(t) - lambda(s);
        return lin(t[0] / s[0], x, -(t[1] * (ScheduleMath.expf(h) - 1f)), m0);
    }

    /** rho = sigma_t / alpha_t of sigmas[k], float32. */
    private float rho(int k) {
        float[] as = alphaSigma(sigmas[k]);
        return as[1] / as[0];
    }

    /**
     * diffusers' second-order {@code ind_fn(t, b, c)}: ∫ of the Lagrange basis polynomial through log b, log c that is
     * 1 at b, as t·(log t − log c − 1)/(log b − log c), in float32 with numpy's float32 log (diffusers calls
     * {@code np.log} on the float32 tensors; the differences of these values cancel, so its rounding shows).
     */
    static float ind2(float t, float b, float c) {
        float lt = ScheduleMath.numpyLogf(t);
        float lc = ScheduleMath.numpyLogf(c);
        float lb = ScheduleMath.numpyLogf(b);
        return t * (-lc + lt - 1f) / (lb - lc);
    }

    /** diffusers' third-order {@code ind_fn(t, b, c, d)}, likewise, in diffusers' order of operations. */
    static float ind3(float t, float b, float c, float d) {
        float lt = ScheduleMath.numpyLogf(t);
        float lb = ScheduleMath.numpyLogf(b);
        float lc = ScheduleMath.numpyLogf(c);
        float ld = ScheduleMath.numpyLogf(d);
        float numerator = t * (lc * (ld - lt + 1f) - ld * lt + ld + lt * lt - 2f * lt + 2f);
        float denominator = (lb - lc) * (lb - ld);
        return numerator / denominator;
    }

    /** x_t = alpha_t·(x / alpha_s0 + c1·m0 + c2·m1). */
    private NDArray secondOrder(int i, NDArray x) {
        float alphaT = alphaSigma(sigmas[i + 1])[0];
        float alphaS0 = alphaSigma(sigmas[i])[0];
        float rhoT = rho(i + 1);
        float rho0 = rho(i);
        float rho1 = rho(i - 1);
        float c1 = ind2(rhoT, rho0, rho1) - ind2(rho0, rho0, rho1);
        float c2 = ind2(rhoT, rho1, rho0) - ind2(rho0, rho1, rho0);
        NDArray m0 = modelOutputs[solverOrder - 1];
        NDArray m1 = modelOutputs[solverOrder - 2];
        double a = alphaT;
        return lin(new double[] {a / alphaS0, a * c1, a * c2}, x, m0, m1);
    }

    /** x_t = alpha_t·(x / alpha_s0 + c1·m0 + c2·m1 + c3·m2). */
    private NDArray thirdOrder(int i, NDArray x) {
        float alphaT = alphaSigma(sigmas[i + 1])[0];
        float alphaS0 = alphaSigma(sigmas[i])[0];
        float rhoT = rho(i + 1);
        float rho0 = rho(i);
        float rho1 = rho(i - 1);
        float rho2 = rho(i - 2);
        float c1 = ind3(rhoT, rho0, rho1, rho2) - ind3(rho0, rho0, rho1, rho2);
        float c2 = ind3(rhoT, rho1, rho2, rho0) - ind3(rho0, rho1, rho2, rho0);
        float c3 = ind3(rhoT, rho2, rho0, rho1) - ind3(rho0, rho2, rho0, rho1);
        NDArray m0 = modelOutputs[solverOrder - 1];
        NDArray m1 = modelOutputs[solverOrder - 2];
        NDArray m2 = modelOutputs[solverOrder - 3];
        double a = alphaT;
        return lin(new double[] {a / alphaS0, a * c1, a * c2, a * c3}, x, m0, m1, m2);
    }

    @Override
    protected NDArray noised(NDArray original, NDArray noise, int i) {
        return noisedAtAlphaSigma(original, noise, i);
    }

    @Override
    protected void releaseHistory() {
        free(modelOutputs);
        lowerOrderNums = 0;
    }
}
