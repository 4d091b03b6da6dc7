package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;

import java.util.List;

/**
 * diffusers' {@code UniPCMultistepScheduler}: the UniP predictor with the UniC corrector (B(h) = bh1 or bh2),
 * in data (x0) or noise prediction form. Computed in the sample's dtype, as diffusers does.
 */
final class UniPcSampler extends AbstractSampler {

    static final String CLASS = "UniPCMultistepScheduler";
    static final String[] SCHEDULES = {"linear", "scaled_linear", "squaredcos_cap_v2"};

    private final int solverOrder;
    private final String predictionType;
    private final boolean predictX0;
    private final String solverType;
    private final boolean lowerOrderFinal;
    private final List<Integer> disableCorrector;
    private final SigmaConversion conversion;
    private final String spacing;
    private final int stepsOffset;
    private final String finalSigmasType;
    private final Double cfgSigmaMin;
    private final Double cfgSigmaMax;
    private final boolean thresholding;
    private final double thresholdRatio;
    private final double sampleMaxValue;

    private NDArray[] modelOutputs;
    private int lowerOrderNums;
    private int thisOrder;
    private NDArray lastSample;

    UniPcSampler(String name, SamplerConfig c) {
        super(name, CLASS, c, TrainSchedule.from(c, SCHEDULES, true, true));
        solverOrder = c.getInt("solver_order", 2);
        if (solverOrder < 1 || solverOrder > 3) {
            throw c.bad("solver_order", "1, 2 or 3");
        }
        predictionType = c.getEnum("prediction_type", "epsilon", "epsilon", "sample", "v_prediction", "flow_prediction");
        if (predictionType.equals("flow_prediction")) {
            throw new IllegalArgumentException("sampler option 'prediction_type' = flow_prediction is not supported (flow-matching models)");
        }
        predictX0 = c.getBool("predict_x0", true);
        String st = c.getEnum("solver_type", "bh2", "bh1", "bh2", "midpoint", "heun", "logrho");
        solverType = st.equals("bh1") ? "bh1" : "bh2";
        lowerOrderFinal = c.getBool("lower_order_final", true);
        disableCorrector = c.getIntList("disable_corrector");
        c.requireAbsentOr("solver_p", "a separate predictor scheduler is not supported");
        c.requireAbsentOr("use_flow_sigmas", "flow-matching sigmas are not supported", SamplerConfig.json(false));
        c.requireAbsentOr("use_dynamic_shifting", "dynamic shifting is for flow-matching models", SamplerConfig.json(false));
        c.requireAbsentOr("shift_terminal", "shift_terminal is for flow-matching models");
        conversion = SigmaConversion.from(c, true);
        spacing = c.getEnum("timestep_spacing", "linspace", SPACINGS);
        stepsOffset = c.getInt("steps_offset", 0);
        finalSigmasType = c.getEnum("final_sigmas_type", "zero", "zero", "sigma_min");
        cfgSigmaMin = c.getDoubleOrNull("sigma_min");
        cfgSigmaMax = c.getDoubleOrNull("sigma_max");
        thresholding = c.getBool("thresholding", false);
        thresholdRatio = c.getDouble("dynamic_thresholding_ratio", 0.995);
        sampleMaxValue = c.getDouble("sample_max_value", 1.0);
        modelOutputs = new NDArray[solverOrder];
    }

    @Override
    protected void computeTimesteps(int n) {
        int T = train.numTrainTimesteps;
        double[] ts = multistepSpacing(spacing, T, T, n, stepsOffset);
        float[] trainSigmas = train.trainSigmas();
        double[] sig;
        double last;
        if (conversion != SigmaConversion.NONE) {
            float[] logSigmas = ScheduleMath.logf(trainSigmas);
            double[] flipped = ScheduleMath.reverse(ScheduleMath.toDouble(trainSigmas));
            sig = conversion.convert(flipped, n, cfgSigmaMin, cfgSigmaMax);
            ts = SigmaConversion.toTimesteps(sig, logSigmas);
            if (conversion == SigmaConversion.KARRAS) {
                for (int i = 0; i < ts.length; i++) {
                    ts[i] = ScheduleMath.round(ts[i]);
                }
            }
            last = "sigma_min".equals(finalSigmasType) ? sig[sig.length - 1] : 0.0;
        } else {
            sig = ScheduleMath.interp(ts, trainSigmas);
            last = "sigma_min".equals(finalSigmasType) ? ScheduleMath.sigmaFromAlphaCumprod(train.alphasCumprod[0]) : 0.0;
        }
        sigmas = new float[sig.length + 1];
        for (int i = 0; i < sig.length; i++) {
            sigmas[i] = (float) sig[i];
        }
        sigmas[sig.length] = (float) last;
        timesteps = new double[ts.length];
        for (int i = 0; i < ts.length; i++) {
            timesteps[i] = (long) ts[i];
        }
        numInferenceSteps = n;
    }

    @Override
    public double initNoiseSigma() {
        return 1.0;
    }

    private static float[] alphaSigma(float sigma) {
        float alpha = alphaOfSigma(sigma);
        return new float[] {alpha, sigma * alpha};
    }

    private static float lambda(float[] as) {
        return ScheduleMath.logf(as[0]) - ScheduleMath.logf(as[1]);
    }

    private NDArray convertModelOutput(NDArray model, NDArray sample, int i) {
        float[] as = alphaSigma(sigmas[i]);
        float alpha = as[0];
        float sigma = as[1];
        if (predictX0) {
            NDArray x0 = switch (predictionType) {
                case "epsilon" -> lin(1.0 / alpha, sample, -(double) sigma / alpha, model);
                case "sample" -> model.duplicate();
                default -> lin(alpha, sample, -sigma, model);
            };
            return thresholding ? threshold(x0, thresholdRatio, sampleMaxValue) : x0;
        }
        return switch (predictionType) {
            case "epsilon" -> model.duplicate();
            case "sample" -> lin(1.0 / sigma, sample, -(double) alpha / sigma, model);
            default -> lin(sigma, sample, alpha, model);
        };
    }

    @Override
    protected NDArray doStep(NDArray model, int i, NDArray sample, NoiseSource noise) {
        boolean useCorrector = i > 0 && !disableCorrector.contains(i - 1) && lastSample != null;
        NDArray converted = keep(convertModelOutput(model, sample, i));
        NDArray x = sample;
        if (useCorrector) {
            x = corrector(converted, i, lastSample, thisOrder);
        }
        free(modelOutputs[0]);
        for (int k = 0; k < solverOrder - 1; k++) {
            modelOutputs[k] = modelOutputs[k + 1];
        }
        modelOutputs[solverOrder - 1] = converted;
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

    private NDArray predictor(int i, NDArray x, int order) {
        NDArray m0 = modelOutputs[solverOrder - 1];
        float[] t = alphaSigma(sigmas[i + 1]);
        float[] s0 = alphaSigma(sigmas[i]);
        float l0 = lambda(s0);
        float h = lambda(t) - l0;
        float[] rks = new float[order - 1];
        NDArray[] mis = new NDArray[order - 1];
        for (int k = 1; k < order; k++) {
            float li = lambda(alphaSigma(sigmas[i - k]));
            rks[k - 1] = (li - l0) / h;
            mis[k - 1] = modelOutputs[solverOrder - 1 - k];
        }
        Phi p = phi(h, rks, order);
        double[] rhos = null;
        if (order >= 2) {
            if (order == 2) {
                rhos = new double[] {0.5};
            } else {
                float[][] r = vandermonde(p.rks, order);
                float[][] sub = new float[order - 1][order - 1];
                for (int a = 0; a < order - 1; a++) {
                    System.arraycopy(r[a], 0, sub[a], 0, order - 1);
                }
                float[] bb = new float[order - 1];
                System.arraycopy(p.b, 0, bb, 0, order - 1);
                rhos = ScheduleMath.toDouble(ScheduleMath.solveF32(sub, bb));
            }
        }
        // x_t = cx*x - cm*m0 - cr * Σ rho_k (m_k - m0) / rk
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
        double[] coefs = new double[order + 1];
        NDArray[] arrays = new NDArray[order + 1];
        coefs[0] = cx;
        arrays[0] = x;
        double m0Coef = -cm;
        for (int k = 0; k < order - 1; k++) {
            double w = cr * rhos[k] / rks[k];
            coefs[k + 2] = -w;
            arrays[k + 2] = mis[k];
            m0Coef += w;
        }
        coefs[1] = m0Coef;
        arrays[1] = m0;
        return lin(coefs, arrays);
    }

    private NDArray corrector(NDArray modelT, int i, NDArray x, int order) {
        NDArray m0 = modelOutputs[solverOrder - 1];
        float[] t = alphaSigma(sigmas[i]);
        float[] s0 = alphaSigma(sigmas[i - 1]);
        float l0 = lambda(s0);
        float h = lambda(t) - l0;
        float[] rks = new float[order - 1];
        NDArray[] mis = new NDArray[order - 1];
        for (int k = 1; k < order; k++) {
            float li = lambda(alphaSigma(sigmas[i - (k + 1)]));
            rks[k - 1] = (li - l0) / h;
            mis[k - 1] = modelOutputs[solverOrder - 1 - k];
        }
        Phi p = phi(h, rks, order);
        double[] rhos;
        if (order == 1) {
            rhos = new double[] {0.5};
        } else {
            rhos = ScheduleMath.toDouble(ScheduleMath.solveF32(vandermonde(p.rks, order), p.b));
        }
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
        // x_t = cx*x - cm*m0 - cr*(Σ_{k<order-1} rho_k (m_k - m0)/rk + rho_last (modelT - m0))
        double rhoLast = rhos[rhos.length - 1];
        double[] coefs = new double[order + 2];
        NDArray[] arrays = new NDArray[order + 2];
        coefs[0] = cx;
        arrays[0] = x;
        double m0Coef = -cm + cr * rhoLast;
        for (int k = 0; k < order - 1; k++) {
            double w = cr * rhos[k] / rks[k];
            coefs[k + 3] = -w;
            arrays[k + 3] = mis[k];
            m0Coef += w;
        }
        coefs[1] = m0Coef;
        arrays[1] = m0;
        coefs[2] = -cr * rhoLast;
        arrays[2] = modelT;
        return lin(coefs, arrays);
    }

    @Override
    protected void releaseHistory() {
        if (modelOutputs != null) {
            for (int k = 0; k < modelOutputs.length; k++) {
                free(modelOutputs[k]);
                modelOutputs[k] = null;
            }
        }
        free(lastSample);
        lastSample = null;
        lowerOrderNums = 0;
        thisOrder = 0;
    }
}
