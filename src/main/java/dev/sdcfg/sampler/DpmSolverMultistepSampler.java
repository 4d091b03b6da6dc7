package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import java.util.List;

import static dev.sdcfg.sampler.SamplerOption.bool;
import static dev.sdcfg.sampler.SamplerOption.choice;
import static dev.sdcfg.sampler.SharedOptions.*;

/**
 * diffusers' {@code DPMSolverMultistepScheduler}: DPM-Solver / DPM-Solver++ (and their SDE variants), orders 1–3,
 * midpoint or Heun second-order updates. The update runs in float32 like diffusers and returns the model output's
 * dtype; SDE noise is drawn in float32, as diffusers does.
 */
final class DpmSolverMultistepSampler extends AbstractSampler {

    static final String CLASS = "DPMSolverMultistepScheduler";

    static final TrainSchedule.Args TRAIN = TrainSchedule.args(true, true, "linear", "scaled_linear", "squaredcos_cap_v2");
    static final SamplerOption<String> ALGORITHM_TYPE = choice("algorithm_type", "dpmsolver++",
            List.of("dpmsolver++", "dpmsolver", "sde-dpmsolver++", "sde-dpmsolver", "deis"), "sde-* variants draw noise");
    static final SamplerOption<String> SOLVER_TYPE = choice("solver_type", "midpoint",
            List.of("midpoint", "heun", "logrho", "bh1", "bh2"), "second-order update");
    static final SamplerOption<Boolean> EULER_AT_FINAL = bool("euler_at_final", false, "first-order last step");
    static final SamplerOption<Boolean> USE_LU_LAMBDAS = bool("use_lu_lambdas", false, "uniform log-SNR steps (Lu et al.)");
    static final List<SamplerOption<?>> OPTIONS = SamplerOption.list(common(TRAIN, MULTISTEP_PREDICTION_TYPE, TIMESTEP_SPACING),
            SIGMA_OPTIONS, SOLVER_ORDER, ALGORITHM_TYPE, SOLVER_TYPE, LOWER_ORDER_FINAL, EULER_AT_FINAL, USE_LU_LAMBDAS,
            FINAL_SIGMAS_TYPE, LAMBDA_MIN_CLIPPED, THRESHOLDING, DYNAMIC_THRESHOLDING_RATIO, SAMPLE_MAX_VALUE,
            RESCALE_BETAS_ZERO_SNR, DPM_VARIANCE_TYPE, FLOW_OPTIONS);

    private final int solverOrder;
    private final String predictionType;
    private final String algorithm;
    private final String solverType;
    private final boolean lowerOrderFinal;
    private final boolean eulerAtFinal;
    private final boolean useLuLambdas;
    private final String finalSigmasType;
    private final double lambdaMinClipped;
    private final String spacing;
    private final int stepsOffset;
    private final String betaSchedule;
    private final SigmaSchedule sigmaSchedule;
    private final X0Clamp clamp;

    private NDArray[] modelOutputs;
    private int lowerOrderNums;

    DpmSolverMultistepSampler(String name, SamplerConfig c) {
        super(name, CLASS, c, TrainSchedule.from(c, TRAIN));
        solverOrder = solverOrder(c);
        predictionType = multistepPredictionType(c);
        String alg = c.get(ALGORITHM_TYPE);
        algorithm = alg.equals("deis") ? "dpmsolver++" : alg;
        solverType = c.get(SOLVER_TYPE).equals("heun") ? "heun" : "midpoint";
        lowerOrderFinal = c.get(LOWER_ORDER_FINAL);
        eulerAtFinal = c.get(EULER_AT_FINAL);
        SigmaConversion conversion = SigmaConversion.from(c);
        useLuLambdas = c.get(USE_LU_LAMBDAS);
        if (useLuLambdas && conversion != SigmaConversion.NONE) {
            throw c.conflict("use_lu_lambdas cannot be combined with use_karras_sigmas / use_exponential_sigmas / use_beta_sigmas",
                    List.of(USE_LU_LAMBDAS, conversion.option()));
        }
        refuseFlowMatching(c);
        c.get(DPM_VARIANCE_TYPE);
        finalSigmasType = c.get(FINAL_SIGMAS_TYPE);
        if (!alg.equals("sde-dpmsolver++") && !alg.equals("dpmsolver++") && finalSigmasType.equals("zero")) {
            throw c.refuse("sampler option 'final_sigmas_type' = zero is not supported with algorithm_type " + alg
                    + "; use sigma_min", ALGORITHM_TYPE, FINAL_SIGMAS_TYPE);
        }
        if (algorithm.equals("sde-dpmsolver") && solverOrder == 3) {
            throw c.conflict("sampler option 'solver_order' = 3 is not defined for algorithm_type sde-dpmsolver",
                    List.of(SOLVER_ORDER, ALGORITHM_TYPE));
        }
        lambdaMinClipped = c.get(LAMBDA_MIN_CLIPPED);
        spacing = c.get(TIMESTEP_SPACING);
        stepsOffset = c.get(STEPS_OFFSET);
        betaSchedule = train.betaSchedule;
        sigmaSchedule = new SigmaSchedule(conversion, c.get(SIGMA_MIN), c.get(SIGMA_MAX));
        clamp = X0Clamp.thresholdOnly(c);
        modelOutputs = new NDArray[solverOrder];
    }

    @Override
    protected String modelPredictionType() {
        return predictionType;
    }

    @Override
    public boolean isStochastic() {
        return algorithm.startsWith("sde-");
    }

    @Override
    protected void computeTimesteps(int n) {
        int T = train.numTrainTimesteps;
        float[] ac = train.alphasCumprod;
        int clipped = clippedLambdas(train, lambdaMinClipped);
        int lastTimestep = T - clipped;
        double[] ts = multistepSpacing(spacing, T, lastTimestep, n, stepsOffset);
        double[] sig;
        boolean roundTs = !"squaredcos_cap_v2".equals(betaSchedule);
        if (useLuLambdas) { // (never with a sigma conversion)
            float[] logSigmas = ScheduleMath.logf(train.trainSigmas());
            double lambdaMin = logSigmas[0];
            double lambdaMax = logSigmas[T - 1];
            double[] ramp = ScheduleMath.npLinspace(0, 1, n);
            sig = new double[n];
            for (int i = 0; i < n; i++) {
                sig[i] = Math.exp(lambdaMax + ramp[i] * (lambdaMin - lambdaMax));
            }
            ts = SigmaConversion.toTimesteps(sig, logSigmas);
            if (roundTs) {
                roundInPlace(ts);
            }
        } else {
            SigmaSchedule.Result s = sigmaSchedule.apply(train, ts, n, SigmaSchedule.Range.TRAINING, roundTs);
            ts = s.timesteps();
            sig = s.sigmas();
        }
        double last = "sigma_min".equals(finalSigmasType) ? ScheduleMath.sigmaFromAlphaCumprod(ac[0]) : 0.0;
        sigmas = withFinalSigma(sig, (float) last);
        timesteps = int64(ts);
        numInferenceSteps = n;
    }

    private NDArray convertModelOutput(NDArray model, NDArray sample, int i) {
        float[] as = alphaSigma(sigmas[i]);
        Prediction.AlphaSigma p = Prediction.AlphaSigma.of(predictionType, as[0], as[1]);
        if (algorithm.endsWith("dpmsolver++")) {
            return clamp.apply(p.x0(sample, model));
        }
        NDArray eps = p.eps(sample, model);
        if (clamp.thresholding()) {
            NDArray x0 = clamp.apply(Prediction.AlphaSigma.x0FromEps(sample, eps, as[0], as[1]));
            eps = Prediction.AlphaSigma.epsFromX0(sample, x0, as[0], as[1]);
        }
        return eps;
    }

    @Override
    protected NDArray doStep(NDArray model, int i, NDArray sample, NoiseSource noise) {
        int len = timesteps.length;
        boolean lowerFinal = i == len - 1 && (eulerAtFinal || (lowerOrderFinal && len < 15) || finalSigmasType.equals("zero"));
        boolean lowerSecond = i == len - 2 && lowerOrderFinal && len < 15;
        NDArray converted = keep(convertModelOutput(model, sample, i));
        push(modelOutputs, converted);
        NDArray x = upcast(sample, model);
        NDArray z = null;
        if (algorithm.startsWith("sde-")) {
            z = noise.randn(model.getShape(), DataType.FLOAT32, sample.getManager());
        }
        NDArray prev;
        if (solverOrder == 1 || lowerOrderNums < 1 || lowerFinal) {
            prev = firstOrder(converted, i, x, z);
        } else if (solverOrder == 2 || lowerOrderNums < 2 || lowerSecond) {
            prev = secondOrder(i, x, z);
        } else {
            prev = thirdOrder(i, x, z);
        }
        if (lowerOrderNums < solverOrder) {
            lowerOrderNums++;
        }
        return toDtypeOf(prev, model);
    }

    private NDArray firstOrder(NDArray m0, int i, NDArray x, NDArray z) {
        float[] t = alphaSigma(sigmas[i + 1]);
        float[] s = alphaSigma(sigmas[i]);
        float alphaT = t[0];
        float sigmaT = t[1];
        float h = lambda(t) - lambda(s);
        switch (algorithm) {
            case "dpmsolver++":
                return lin(sigmaT / s[1], x, -(alphaT * (ScheduleMath.expf(-h) - 1f)), m0);
            case "dpmsolver":
                return lin(alphaT / s[0], x, -(sigmaT * (ScheduleMath.expf(h) - 1f)), m0);
            case "sde-dpmsolver++": {
                float e2 = ScheduleMath.expf(-2f * h);
                return lin(new double[] {sigmaT / s[1] * ScheduleMath.expf(-h), alphaT * (1f - e2),
                    sigmaT * ScheduleMath.sqrtf(1f - e2)}, x, m0, z);
            }
            default: { // sde-dpmsolver
                return lin(new double[] {alphaT / s[0], -(2f * (sigmaT * (ScheduleMath.expf(h) - 1f))),
                    sigmaT * ScheduleMath.sqrtf(ScheduleMath.expf(2f * h) - 1f)}, x, m0, z);
            }
        }
    }

    private NDArray secondOrder(int i, NDArray x, NDArray z) {
        float[] t = alphaSigma(sigmas[i + 1]);
        float[] s0 = alphaSigma(sigmas[i]);
        float[] s1 = alphaSigma(sigmas[i - 1]);
        float alphaT = t[0];
        float sigmaT = t[1];
        float lt = lambda(t);
        float l0 = lambda(s0);
        float l1 = lambda(s1);
        NDArray m0 = modelOutputs[solverOrder - 1];
        NDArray m1 = modelOutputs[solverOrder - 2];
        float h = lt - l0;
        float h0 = l0 - l1;
        float r0 = h0 / h;
        double invR0 = 1f / r0; // D1 = (1 / r0) * (m0 - m1)
        double cx;
        double c0;
        double c1;
        double cz = 0;
        float em = ScheduleMath.expf(-h) - 1f;
        float ep = ScheduleMath.expf(h) - 1f;
        switch (algorithm) {
            case "dpmsolver++" -> {
                cx = sigmaT / s0[1];
                c0 = -(alphaT * em);
                c1 = "midpoint".equals(solverType) ? -(0.5f * (alphaT * em)) : alphaT * (em / h + 1f);
            }
            case "dpmsolver" -> {
                cx = alphaT / s0[0];
                c0 = -(sigmaT * ep);
                c1 = "midpoint".equals(solverType) ? -(0.5f * (sigmaT * ep)) : -(sigmaT * (ep / h - 1f));
            }
            case "sde-dpmsolver++" -> {
                float e2 = ScheduleMath.expf(-2f * h);
                cx = sigmaT / s0[1] * ScheduleMath.expf(-h);
                c0 = alphaT * (1f - e2);
                c1 = "midpoint".equals(solverType) ? 0.5f * (alphaT * (1f - e2)) : alphaT * ((1f - e2) / (-2f * h) + 1f);
                cz = sigmaT * ScheduleMath.sqrtf(1f - e2);
            }
            default -> { // sde-dpmsolver
                cx = alphaT / s0[0];
                c0 = -(2f * (sigmaT * ep));
                c1 = "midpoint".equals(solverType) ? -(sigmaT * ep) : -(2f * (sigmaT * (ep / h - 1f)));
                cz = sigmaT * ScheduleMath.sqrtf(ScheduleMath.expf(2f * h) - 1f);
            }
        }
        // x_t = cx*x + c0*D0 + c1*D1 + cz*z with D0 = m0, D1 = invR0*(m0 - m1)
        return lin(new double[] {cx, c0 + c1 * invR0, -c1 * invR0, cz}, x, m0, m1, z);
    }

    private NDArray thirdOrder(int i, NDArray x, NDArray z) {
        float[] t = alphaSigma(sigmas[i + 1]);
        float[] s0 = alphaSigma(sigmas[i]);
        float[] s1 = alphaSigma(sigmas[i - 1]);
        float[] s2 = alphaSigma(sigmas[i - 2]);
        float alphaT = t[0];
        float sigmaT = t[1];
        float lt = lambda(t);
        float l0 = lambda(s0);
        float l1 = lambda(s1);
        float l2 = lambda(s2);
        NDArray m0 = modelOutputs[solverOrder - 1];
        NDArray m1 = modelOutputs[solverOrder - 2];
        NDArray m2 = modelOutputs[solverOrder - 3];
        float h = lt - l0;
        float h0 = l0 - l1;
        float h1 = l1 - l2;
        float r0 = h0 / h;
        float r1 = h1 / h;
        // D1_0 = (1/r0)(m0 - m1), D1_1 = (1/r1)(m1 - m2)
        // D1 = D1_0 + r0/(r0+r1) (D1_0 - D1_1); D2 = 1/(r0+r1) (D1_0 - D1_1)
        double a = 1f / r0;
        double b = 1f / r1;
        double p = r0 / (r0 + r1);
        double q = 1f / (r0 + r1);
        // as combinations of (m0, m1, m2)
        double[] d10 = {a, -a, 0};
        double[] d11 = {0, b, -b};
        double[] diff = {d10[0] - d11[0], d10[1] - d11[1], d10[2] - d11[2]};
        double[] d1 = {d10[0] + p * diff[0], d10[1] + p * diff[1], d10[2] + p * diff[2]};
        double[] d2 = {q * diff[0], q * diff[1], q * diff[2]};
        double cx;
        double c0;
        double c1;
        double c2;
        double cz = 0;
        if (algorithm.equals("dpmsolver++")) {
            float em = ScheduleMath.expf(-h) - 1f;
            cx = sigmaT / s0[1];
            c0 = -(alphaT * em);
            c1 = alphaT * (em / h + 1f);
            c2 = -(alphaT * ((ScheduleMath.expf(-h) - 1f + h) / (h * h) - 0.5f));
        } else if (algorithm.equals("dpmsolver")) {
            float ep = ScheduleMath.expf(h) - 1f;
            cx = alphaT / s0[0];
            c0 = -(sigmaT * ep);
            c1 = -(sigmaT * (ep / h - 1f));
            c2 = -(sigmaT * ((ScheduleMath.expf(h) - 1f - h) / (h * h) - 0.5f));
        } else if (algorithm.equals("sde-dpmsolver++")) {
            float e2 = ScheduleMath.expf(-2f * h);
            cx = sigmaT / s0[1] * ScheduleMath.expf(-h);
            c0 = alphaT * (1f - e2);
            c1 = alphaT * ((1f - e2) / (-2f * h) + 1f);
            c2 = alphaT * ((1f - e2 - 2f * h) / ((2f * h) * (2f * h)) - 0.5f);
            cz = sigmaT * ScheduleMath.sqrtf(1f - e2);
        } else {
            throw new IllegalStateException("third-order " + algorithm + " is not defined by diffusers");
        }
        double[] w = new double[3];
        for (int k = 0; k < 3; k++) {
            w[k] = (k == 0 ? c0 : 0) + c1 * d1[k] + c2 * d2[k];
        }
        return lin(new double[] {cx, w[0], w[1], w[2], cz}, x, m0, m1, m2, z);
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
