package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;

import java.util.List;

import static dev.sdcfg.sampler.SamplerOption.bool;
import static dev.sdcfg.sampler.SamplerOption.choice;
import static dev.sdcfg.sampler.SamplerOption.fixed;
import static dev.sdcfg.sampler.SharedOptions.*;

/**
 * diffusers' {@code UniPCMultistepScheduler}: the UniP predictor with the UniC corrector (B(h) = bh1 or bh2),
 * in data (x0) or noise prediction form. Computed in the sample's dtype, as diffusers does.
 */
final class UniPcSampler extends AbstractSampler {

    static final String CLASS = "UniPCMultistepScheduler";

    static final TrainSchedule.Args TRAIN = TrainSchedule.args(true, true, "linear", "scaled_linear", "squaredcos_cap_v2");
    static final SamplerOption<Boolean> PREDICT_X0 = bool("predict_x0", true, "data-prediction form");
    static final SamplerOption<String> SOLVER_TYPE = choice("solver_type", "bh2", List.of("bh1", "bh2", "midpoint", "heun", "logrho"), "B(h)");
    static final SamplerOption<Boolean> UNIPC_LOWER_ORDER_FINAL = bool("lower_order_final", true, "lower orders for the last steps");
    static final SamplerOption<List<Integer>> DISABLE_CORRECTOR = SamplerOption.integers("disable_corrector",
            "step indices without the corrector");
    static final SamplerOption<Object> SOLVER_P = fixed("solver_p", "string", null, List.of(), "only null",
            "a separate predictor scheduler is not supported");
    static final SamplerOption<Object> SHIFT_TERMINAL = fixed("shift_terminal", "number", null, List.of(), "only null",
            "shift_terminal is for flow-matching models");
    static final List<SamplerOption<?>> OPTIONS = SamplerOption.list(common(TRAIN, MULTISTEP_PREDICTION_TYPE, TIMESTEP_SPACING),
            SIGMA_OPTIONS, SOLVER_ORDER, PREDICT_X0, SOLVER_TYPE, UNIPC_LOWER_ORDER_FINAL, DISABLE_CORRECTOR, FINAL_SIGMAS_TYPE,
            THRESHOLDING, DYNAMIC_THRESHOLDING_RATIO, SAMPLE_MAX_VALUE, RESCALE_BETAS_ZERO_SNR, SOLVER_P, FLOW_OPTIONS,
            SHIFT_TERMINAL);

    private final int solverOrder;
    private final String predictionType;
    private final boolean predictX0;
    private final String solverType;
    private final boolean lowerOrderFinal;
    private final List<Integer> disableCorrector;
    private final String spacing;
    private final int stepsOffset;
    private final String finalSigmasType;
    private final SigmaSchedule sigmaSchedule;
    private final X0Clamp clamp;

    private NDArray[] modelOutputs;
    private int lowerOrderNums;
    private int thisOrder;
    private NDArray lastSample;

    UniPcSampler(String name, SamplerConfig c) {
        super(name, CLASS, c, TrainSchedule.from(c, TRAIN));
        solverOrder = solverOrder(c);
        predictionType = multistepPredictionType(c);
        predictX0 = c.get(PREDICT_X0);
        solverType = c.get(SOLVER_TYPE).equals("bh1") ? "bh1" : "bh2";
        lowerOrderFinal = c.get(UNIPC_LOWER_ORDER_FINAL);
        disableCorrector = c.get(DISABLE_CORRECTOR);
        c.get(SOLVER_P);
        refuseFlowMatching(c);
        c.get(SHIFT_TERMINAL);
        SigmaConversion conversion = SigmaConversion.from(c);
        spacing = c.get(TIMESTEP_SPACING);
        stepsOffset = c.get(STEPS_OFFSET);
        finalSigmasType = c.get(FINAL_SIGMAS_TYPE);
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
        // sigma_min: the last converted sigma, else the training schedule's (as diffusers)
        double last = !"sigma_min".equals(finalSigmasType) ? 0.0
                : sigmaSchedule.converts() ? sig[sig.length - 1] : ScheduleMath.sigmaFromAlphaCumprod(train.alphasCumprod[0]);
        sigmas = withFinalSigma(sig, (float) last);
        timesteps = int64(ts);
        numInferenceSteps = n;
    }

    private NDArray convertModelOutput(NDArray model, NDArray sample, int i) {
        float[] as = alphaSigma(sigmas[i]);
        Prediction.AlphaSigma p = Prediction.AlphaSigma.of(predictionType, as[0], as[1]);
        return predictX0 ? clamp.apply(p.x0(sample, model)) : p.eps(sample, model);
    }

    @Override
    protected NDArray doStep(NDArray model, int i, NDArray sample, NoiseSource noise) {
        boolean useCorrector = i > 0 && !disableCorrector.contains(i - 1) && lastSample != null;
        NDArray converted = keep(convertModelOutput(model, sample, i));
        NDArray x = sample;
        if (useCorrector) {
            x = corrector(converted, i, lastSample, thisOrder);
        }
        push(modelOutputs, converted);
        int order = lowerOrderFinal ? Math.min(solverOrder, timesteps.length - i) : solverOrder;
        thisOrder = Math.min(order, lowerOrderNums + 1);
        free(lastSample);
        lastSample = x == sample ? keepCopy(sample) : keep(x);
        NDArray prev = predictor(i, lastSample, thisOrder);
        if (lowerOrderNums < solverOrder) {
            lowerOrderNums++;
        }
        return prev;
    }

    /** Coefficients shared by predictor and corrector. */
    private record Phi(float hh, float hPhi1, float bH, float[] rks, float[] b) {
    }

    private Phi phi(float h, float[] rksWithoutOne, int order) {
        float[] rks = new float[rksWithoutOne.length + 1];
        System.arraycopy(rksWithoutOne, 0, rks, 0, rksWithoutOne.length);
        rks[rks.length - 1] = 1f;
        float hh = predictX0 ? -h : h;
        float hPhi1 = ScheduleMath.expm1f(hh);
        float hPhiK = hPhi1 / hh - 1f;
        long factorial = 1;
        float bH = "bh1".equals(solverType) ? hh : ScheduleMath.expm1f(hh);
        float[] b = new float[order];
        for (int k = 1; k <= order; k++) {
            b[k - 1] = hPhiK * (float) factorial / bH;
            factorial *= k + 1;
            hPhiK = hPhiK / hh - (float) (1.0 / factorial);
        }
        return new Phi(hh, hPhi1, bH, rks, b);
    }

    /** R[k][j] = rks[j] ** k (torch.pow of a float32 tensor). */
    private static float[][] vandermonde(float[] rks, int order) {
        float[][] r = new float[order][rks.length];
        for (int k = 0; k < order; k++) {
            for (int j = 0; j < rks.length; j++) {
                float v = rks[j];
                r[k][j] = k == 0 ? 1f : k == 1 ? v : k == 2 ? v * v : (float) Math.pow(v, k);
            }
        }
        return r;
    }

    /** UniP: x_t = cx·x − cm·m0 − cr·Σ rho_k (m_k − m0) / r_k, from sigmas[i] to sigmas[i + 1]. */
    private NDArray predictor(int i, NDArray x, int order) {
        return update(i, x, order, null);
    }

    /** UniC: the predictor's update from sigmas[i − 1] to sigmas[i] plus rho_last·(modelT − m0) inside the sum. */
    private NDArray corrector(NDArray modelT, int i, NDArray x, int order) {
        return update(i - 1, x, order, modelT);
    }

    /**
     * The update of x from sigmas[j] to sigmas[j + 1] with the newest outputs m0, m1, ...:
     * x_t = cx·x − cm·m0 − cr·(Σ_{k<order−1} rho_k (m_k − m0) / r_k + rho_last·(modelT − m0)), the last term only
     * for the corrector ({@code modelT != null}), whose rhos solve the full system.
     */
    private NDArray update(int j, NDArray x, int order, NDArray modelT) {
        boolean correct = modelT != null;
        NDArray m0 = modelOutputs[solverOrder - 1];
        float[] t = alphaSigma(sigmas[j + 1]);
        float[] s0 = alphaSigma(sigmas[j]);
        float l0 = lambda(s0);
        float h = lambda(t) - l0;
        float[] rks = new float[order - 1];
        NDArray[] mis = new NDArray[order - 1];
        for (int k = 1; k < order; k++) {
            float li = lambda(alphaSigma(sigmas[j - k]));
            rks[k - 1] = (li - l0) / h;
            mis[k - 1] = modelOutputs[solverOrder - 1 - k];
        }
        Phi p = phi(h, rks, order);
        double[] rhos = correct ? correctorRhos(p, order) : predictorRhos(p, order);
        double cx;
        double cm;
        double cr;
        if (predictX0) {
            cx = t[1] / s0[1];
            cm = t[0] * p.hPhi1;
            cr = t[0] * p.bH;
        } else {
            cx = t[0] / s0[0];
            cm = t[1] * p.hPhi1;
            cr = t[1] * p.bH;
        }
        // arrays: x, m0, [modelT,] m_1 ... m_{order-1}
        int first = correct ? 3 : 2;
        double[] coefs = new double[order + first - 1];
        NDArray[] arrays = new NDArray[order + first - 1];
        coefs[0] = cx;
        arrays[0] = x;
        double rhoLast = correct ? rhos[rhos.length - 1] : 0;
        double m0Coef = correct ? -cm + cr * rhoLast : -cm;
        for (int k = 0; k < order - 1; k++) {
            double w = cr * rhos[k] / rks[k];
            coefs[k + first] = -w;
            arrays[k + first] = mis[k];
            m0Coef += w;
        }
        coefs[1] = m0Coef;
        arrays[1] = m0;
        if (correct) {
            coefs[2] = -cr * rhoLast;
            arrays[2] = modelT;
        }
        return lin(coefs, arrays);
    }

    /** The predictor's rhos: none for order 1, 0.5 for order 2, else the leading (order − 1)-system. */
    private static double[] predictorRhos(Phi p, int order) {
        if (order < 2) {
            return null;
        }
        if (order == 2) {
            return new double[] {0.5};
        }
        float[][] r = vandermonde(p.rks, order);
        float[][] sub = new float[order - 1][order - 1];
        for (int a = 0; a < order - 1; a++) {
            System.arraycopy(r[a], 0, sub[a], 0, order - 1);
        }
        float[] bb = new float[order - 1];
        System.arraycopy(p.b, 0, bb, 0, order - 1);
        return ScheduleMath.toDouble(ScheduleMath.solveF32(sub, bb));
    }

    /** The corrector's rhos: 0.5 for order 1, else the full system. */
    private static double[] correctorRhos(Phi p, int order) {
        if (order == 1) {
            return new double[] {0.5};
        }
        return ScheduleMath.toDouble(ScheduleMath.solveF32(vandermonde(p.rks, order), p.b));
    }

    @Override
    protected NDArray noised(NDArray original, NDArray noise, int i) {
        return noisedAtAlphaSigma(original, noise, i);
    }

    @Override
    protected void releaseHistory() {
        free(modelOutputs);
        free(lastSample);
        lastSample = null;
        lowerOrderNums = 0;
        thisOrder = 0;
    }
}
