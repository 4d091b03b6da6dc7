package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;

import java.util.Arrays;
import java.util.List;

import static dev.sdcfg.sampler.SamplerOption.bool;
import static dev.sdcfg.sampler.SamplerOption.choice;
import static dev.sdcfg.sampler.SharedOptions.*;

/**
 * diffusers' {@code DPMSolverSinglestepScheduler}: single-step DPM-Solver / DPM-Solver++ (and SDE-DPM-Solver++),
 * orders 1–3, midpoint or Heun updates. Steps are grouped by an order list (diffusers' {@code get_order_list}, e.g.
 * 1, 2, 1, 2, ... for order 2): an order-1 step remembers the sample it starts from, and the order-k step that
 * ends a group goes from that remembered sample over the whole group with the k model outputs made inside it.
 * Like diffusers, the update runs in the sample's dtype (no float32 upcast) with float32 scalar coefficients, and
 * SDE noise is drawn every step in the converted model output's dtype.
 *
 * <p>Kept diffusers behaviours: timesteps are always linspace-spaced (the class has no {@code timestep_spacing} or
 * {@code steps_offset}); {@code lower_order_final} defaults to false but {@link #setTimesteps} switches it on, for
 * good, when {@code final_sigmas_type} is zero or the step count is not a multiple of {@code solver_order}; Karras
 * timesteps are always rounded.
 */
final class DpmSolverSinglestepSampler extends AbstractSampler {

    static final String CLASS = "DPMSolverSinglestepScheduler";

    static final TrainSchedule.Args TRAIN = TrainSchedule.args(false, false, "linear", "scaled_linear", "squaredcos_cap_v2");
    /** sde-dpmsolver, not listed, is refused with its own message. */
    static final SamplerOption<String> ALGORITHM_TYPE = choice("algorithm_type", "dpmsolver++",
            List.of("dpmsolver++", "dpmsolver", "sde-dpmsolver++", "deis"),
            "sde-dpmsolver++ draws noise; deis means dpmsolver++; dpmsolver needs final_sigmas_type sigma_min");
    static final SamplerOption<String> SOLVER_TYPE = choice("solver_type", "midpoint", List.of("midpoint", "heun", "logrho", "bh1", "bh2"),
            "second/third-order update (logrho, bh1, bh2 mean midpoint)");
    static final SamplerOption<Boolean> SINGLESTEP_LOWER_ORDER_FINAL = bool("lower_order_final", false,
            "false keeps full-order groups to the end; needs final_sigmas_type sigma_min and steps divisible by solver_order, else it is turned on");
    static final SamplerOption<Boolean> SINGLESTEP_THRESHOLDING = THRESHOLDING.describedAs("dynamic thresholding of x0 (not with dpmsolver)");
    // no timestep_spacing / steps_offset: the timesteps are always linspace-spaced
    static final List<SamplerOption<?>> OPTIONS = SamplerOption.list(common(TRAIN, MULTISTEP_PREDICTION_TYPE, null),
            SIGMA_OPTIONS, SOLVER_ORDER, ALGORITHM_TYPE, SOLVER_TYPE, SINGLESTEP_LOWER_ORDER_FINAL, FINAL_SIGMAS_TYPE,
            LAMBDA_MIN_CLIPPED, SINGLESTEP_THRESHOLDING, DYNAMIC_THRESHOLDING_RATIO, SAMPLE_MAX_VALUE, DPM_VARIANCE_TYPE,
            FLOW_OPTIONS);

    private final int solverOrder;
    private final String predictionType;
    private final String algorithm;
    private final boolean heun;
    /** Not final: set_timesteps turns it on (register_to_config) in the cases above. */
    private boolean lowerOrderFinal;
    private final boolean finalSigmaZero;
    private final double lambdaMinClipped;
    private final SigmaSchedule sigmaSchedule;
    private final X0Clamp clamp;

    private int[] orderList = new int[0];
    private final NDArray[] modelOutputs;
    /** The sample the current group of steps started from (diffusers' {@code self.sample}); owned. */
    private NDArray groupSample;

    DpmSolverSinglestepSampler(String name, SamplerConfig c) {
        super(name, CLASS, c, TrainSchedule.from(c, TRAIN));
        solverOrder = solverOrder(c);
        predictionType = multistepPredictionType(c);
        if (c.is(ALGORITHM_TYPE, "sde-dpmsolver")) {
            throw c.refuse("sampler option 'algorithm_type' = sde-dpmsolver is not implemented by diffusers' "
                    + "DPMSolverSinglestepScheduler; use dpmsolver, dpmsolver++ or sde-dpmsolver++ (or dpmpp_2m_sde for the "
                    + "multistep SDE solver)", ALGORITHM_TYPE);
        }
        String alg = c.get(ALGORITHM_TYPE);
        algorithm = alg.equals("deis") ? "dpmsolver++" : alg; // diffusers' own mapping
        heun = c.get(SOLVER_TYPE).equals("heun");
        lowerOrderFinal = c.get(SINGLESTEP_LOWER_ORDER_FINAL);
        SigmaConversion conversion = SigmaConversion.from(c);
        refuseFlowMatching(c);
        c.get(DPM_VARIANCE_TYPE);
        finalSigmaZero = c.get(FINAL_SIGMAS_TYPE).equals("zero");
        if (algorithm.equals("dpmsolver") && finalSigmaZero) {
            throw c.refuse("sampler option 'final_sigmas_type' = zero is not supported with algorithm_type "
                    + "dpmsolver; use sigma_min", ALGORITHM_TYPE, FINAL_SIGMAS_TYPE);
        }
        clamp = X0Clamp.thresholdOnly(c, SINGLESTEP_THRESHOLDING);
        if (algorithm.equals("dpmsolver") && clamp.thresholding()) {
            // diffusers indexes alpha_t / sigma_t with the (absent) timestep argument there and fails on every step
            throw c.refuse("sampler option 'thresholding' = true is not supported with algorithm_type "
                    + "dpmsolver (diffusers' DPMSolverSinglestepScheduler fails in that combination); use dpmsolver++",
                    ALGORITHM_TYPE, SINGLESTEP_THRESHOLDING);
        }
        lambdaMinClipped = c.get(LAMBDA_MIN_CLIPPED);
        sigmaSchedule = new SigmaSchedule(conversion, c.get(SIGMA_MIN), c.get(SIGMA_MAX));
        modelOutputs = new NDArray[solverOrder];
    }

    @Override
    protected String modelPredictionType() {
        return predictionType;
    }

    @Override
    public boolean isStochastic() {
        return algorithm.equals("sde-dpmsolver++");
    }

    @Override
    protected void computeTimesteps(int n) {
        int T = train.numTrainTimesteps;
        float[] ac = train.alphasCumprod;
        int clipped = clippedLambdas(train, lambdaMinClipped);
        double[] spaced = multistepSpacing("linspace", T, T - clipped, n, 0);
        SigmaSchedule.Result s = sigmaSchedule.apply(train, spaced, n, SigmaSchedule.Range.TRAINING, true);
        double[] ts = s.timesteps();
        double[] sig = s.sigmas();
        float last = finalSigmaZero ? 0f : ScheduleMath.sigmaFromAlphaCumprod(ac[0]);
        sigmas = withFinalSigma(sig, last);
        timesteps = int64(ts);
        numInferenceSteps = n;
        if (!lowerOrderFinal && (n % solverOrder != 0 || finalSigmaZero)) {
            lowerOrderFinal = true;
        }
        orderList = orderList(n, solverOrder, lowerOrderFinal, finalSigmaZero);
    }

    /** diffusers' {@code get_order_list}: the solver order of each step. */
    static int[] orderList(int steps, int order, boolean lowerOrderFinal, boolean finalSigmaZero) {
        int[] cycle = order == 3 ? new int[] {1, 2, 3} : order == 2 ? new int[] {1, 2} : new int[] {1};
        int[] tail;
        int groups;
        if (!lowerOrderFinal || order == 1) {
            groups = steps / order;
            tail = new int[0];
        } else if (order == 3) {
            int rem = steps % 3;
            groups = rem == 0 ? steps / 3 - 1 : steps / 3;
            tail = rem == 0 ? new int[] {1, 2, 1} : rem == 1 ? new int[] {1} : new int[] {1, 2};
        } else {
            boolean even = steps % 2 == 0;
            groups = even ? steps / 2 - 1 : steps / 2;
            tail = even ? new int[] {1, 1} : new int[] {1};
        }
        int[] orders = new int[groups * order + tail.length];
        for (int g = 0; g < groups; g++) {
            System.arraycopy(cycle, 0, orders, g * order, order);
        }
        System.arraycopy(tail, 0, orders, groups * order, tail.length);
        if (finalSigmaZero) {
            if (orders.length == 0) {
                throw new IllegalStateException("empty order list"); // diffusers: IndexError
            }
            orders[orders.length - 1] = 1;
        }
        return orders;
    }

    /** The per-step orders of the current schedule (tests). */
    int[] orderList() {
        return orderList.clone();
    }

    private NDArray convertModelOutput(NDArray model, NDArray sample, int i) {
        float[] as = alphaSigma(sigmas[i]);
        Prediction.AlphaSigma p = Prediction.AlphaSigma.of(predictionType, as[0], as[1]);
        if (algorithm.equals("dpmsolver")) {
            return p.eps(sample, model);
        }
        return clamp.apply(p.x0(sample, model));
    }

    @Override
    protected NDArray doStep(NDArray model, int i, NDArray sample, NoiseSource noise) {
        if (i >= orderList.length) {
            throw new IllegalStateException(name + ": no solver order for step " + i + " (order list " + Arrays.toString(orderList) + ")");
        }
        NDArray converted = keep(convertModelOutput(model, sample, i));
        push(modelOutputs, converted);
        NDArray z = null;
        if (algorithm.equals("sde-dpmsolver++")) {
            z = noise.randn(converted.getShape(), converted.getDataType(), sample.getManager());
        }
        int order = orderList[i];
        // starting mid-schedule (img2img): as many outputs as there are
        while (modelOutputs[solverOrder - order] == null) {
            order--;
        }
        if (order == 1) {
            free(groupSample);
            groupSample = keepCopy(sample);
        }
        return switch (order) {
            case 1 -> firstOrder(converted, i, groupSample, z);
            case 2 -> secondOrder(i, groupSample, z);
            default -> thirdOrder(i, groupSample, z);
        };
    }

    private NDArray firstOrder(NDArray m0, int i, NDArray x, NDArray z) {
        float[] t = alphaSigma(sigmas[i + 1]);
        float[] s = alphaSigma(sigmas[i]);
        float alphaT = t[0];
        float sigmaT = t[1];
        float h = lambda(t) - lambda(s);
        return switch (algorithm) {
            case "dpmsolver++" -> lin(sigmaT / s[1], x, -(alphaT * (ScheduleMath.expf(-h) - 1f)), m0);
            case "dpmsolver" -> lin(alphaT / s[0], x, -(sigmaT * (ScheduleMath.expf(h) - 1f)), m0);
            default -> {
                float e2 = ScheduleMath.expf(-2f * h);
                yield lin(new double[] {sigmaT / s[1] * ScheduleMath.expf(-h), alphaT * (1f - e2),
                    sigmaT * ScheduleMath.sqrtf(1f - e2)}, x, m0, z);
            }
        };
    }

    /**
     * From sigmas[i − 1] (where the group's sample is) to sigmas[i + 1] with m1 (made at i − 1) and m0 (made at i):
     * D0 = m1, D1 = (m0 − m1) / r0.
     */
    private NDArray secondOrder(int i, NDArray x, NDArray z) {
        float[] t = alphaSigma(sigmas[i + 1]);
        float[] s0 = alphaSigma(sigmas[i]);
        float[] s1 = alphaSigma(sigmas[i - 1]);
        float alphaT = t[0];
        float sigmaT = t[1];
        float l1 = lambda(s1);
        float h = lambda(t) - l1;
        float h0 = lambda(s0) - l1;
        float r0 = h0 / h;
        double invR0 = 1f / r0;
        NDArray m0 = modelOutputs[solverOrder - 1];
        NDArray m1 = modelOutputs[solverOrder - 2];
        double cx;
        double c0;
        double c1;
        double cz = 0;
        switch (algorithm) {
            case "dpmsolver++" -> {
                float em = ScheduleMath.expf(-h) - 1f;
                cx = sigmaT / s1[1];
                c0 = -(alphaT * em);
                c1 = heun ? alphaT * (em / h + 1f) : -(0.5f * (alphaT * em));
            }
            case "dpmsolver" -> {
                float ep = ScheduleMath.expf(h) - 1f;
                cx = alphaT / s1[0];
                c0 = -(sigmaT * ep);
                c1 = heun ? -(sigmaT * (ep / h - 1f)) : -(0.5f * (sigmaT * ep));
            }
            default -> { // sde-dpmsolver++
                float e2 = ScheduleMath.expf(-2f * h);
                cx = sigmaT / s1[1] * ScheduleMath.expf(-h);
                c0 = alphaT * (1f - e2);
                c1 = heun ? alphaT * ((1f - e2) / (-2f * h) + 1f) : 0.5f * (alphaT * (1f - e2));
                cz = sigmaT * ScheduleMath.sqrtf(1f - e2);
            }
        }
        // x_t = cx·x + c0·D0 + c1·D1 + cz·z with D0 = m1, D1 = invR0·(m0 − m1)
        return lin(new double[] {cx, c1 * invR0, c0 - c1 * invR0, cz}, x, m0, m1, z);
    }

    /**
     * From sigmas[i − 2] to sigmas[i + 1] with m2, m1, m0 (made at i − 2, i − 1, i): D0 = m2,
     * D1_0 = (m1 − m2) / r1, D1_1 = (m0 − m2) / r0, D1 = (r0·D1_0 − r1·D1_1) / (r0 − r1),
     * D2 = 2·(D1_1 − D1_0) / (r0 − r1); the midpoint form uses D0 and D1_1 only.
     */
    private NDArray thirdOrder(int i, NDArray x, NDArray z) {
        float[] t = alphaSigma(sigmas[i + 1]);
        float[] s0 = alphaSigma(sigmas[i]);
        float[] s1 = alphaSigma(sigmas[i - 1]);
        float[] s2 = alphaSigma(sigmas[i - 2]);
        float alphaT = t[0];
        float sigmaT = t[1];
        float l2 = lambda(s2);
        float h = lambda(t) - l2;
        float h0 = lambda(s0) - l2;
        float h1 = lambda(s1) - l2;
        float r0 = h0 / h;
        float r1 = h1 / h;
        double a = 1f / r1; // D1_0 = a·(m1 − m2)
        double b = 1f / r0; // D1_1 = b·(m0 − m2)
        double rd = r0 - r1; // float32 difference
        // as combinations of (m0, m1, m2)
        double[] d11 = {b, 0, -b};
        double[] d10 = {0, a, -a};
        double[] d1 = new double[3];
        double[] d2 = new double[3];
        for (int k = 0; k < 3; k++) {
            d1[k] = (r0 * d10[k] - r1 * d11[k]) / rd;
            d2[k] = 2.0 * (d11[k] - d10[k]) / rd;
        }
        double cx;
        double c0;
        double c1;
        double c2 = 0;
        double cz = 0;
        switch (algorithm) {
            case "dpmsolver++" -> {
                float em = ScheduleMath.expf(-h) - 1f;
                cx = sigmaT / s2[1];
                c0 = -(alphaT * em);
                c1 = alphaT * (em / h + 1f);
                if (heun) {
                    c2 = -(alphaT * ((ScheduleMath.expf(-h) - 1f + h) / (h * h) - 0.5f));
                }
            }
            case "dpmsolver" -> {
                float ep = ScheduleMath.expf(h) - 1f;
                cx = alphaT / s2[0];
                c0 = -(sigmaT * ep);
                c1 = -(sigmaT * (ep / h - 1f));
                if (heun) {
                    c2 = -(sigmaT * ((ScheduleMath.expf(h) - 1f - h) / (h * h) - 0.5f));
                }
            }
            default -> { // sde-dpmsolver++
                float e2 = ScheduleMath.expf(-2f * h);
                cx = sigmaT / s2[1] * ScheduleMath.expf(-h);
                c0 = alphaT * (1f - e2);
                c1 = alphaT * ((1f - e2) / (-2f * h) + 1f);
                if (heun) {
                    c2 = alphaT * ((1f - e2 + (-2f * h)) / ((-2f * h) * (-2f * h)) - 0.5f);
                }
                cz = sigmaT * ScheduleMath.sqrtf(1f - e2);
            }
        }
        // midpoint: c1 multiplies D1_1; heun: c1 multiplies D1 and c2 multiplies D2
        double[] first = heun ? d1 : d11;
        double[] w = new double[3];
        for (int k = 0; k < 3; k++) {
            w[k] = c1 * first[k] + c2 * d2[k];
        }
        w[2] += c0; // D0 = m2
        return lin(new double[] {cx, w[0], w[1], w[2], cz}, x, modelOutputs[solverOrder - 1],
                modelOutputs[solverOrder - 2], modelOutputs[solverOrder - 3], z);
    }

    @Override
    protected NDArray noised(NDArray original, NDArray noise, int i) {
        return noisedAtAlphaSigma(original, noise, i);
    }

    @Override
    protected void releaseHistory() {
        free(modelOutputs);
        free(groupSample);
        groupSample = null;
    }
}
