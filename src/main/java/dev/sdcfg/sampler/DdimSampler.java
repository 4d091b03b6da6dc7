package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;

/** diffusers' {@code DDIMScheduler}; {@code eta} (default 0) and {@code use_clipped_model_output} are step options. */
final class DdimSampler extends AbstractSampler {

    static final String CLASS = "DDIMScheduler";
    static final String[] SCHEDULES = {"linear", "scaled_linear", "squaredcos_cap_v2"};

    private final String predictionType;
    private final String spacing;
    private final int stepsOffset;
    private final boolean clipSample;
    private final double clipRange;
    private final boolean thresholding;
    private final double thresholdRatio;
    private final double sampleMaxValue;
    private final float finalAlphaCumprod;
    private final double eta;
    private final boolean useClippedModelOutput;

    DdimSampler(String name, SamplerConfig c) {
        super(name, CLASS, c, TrainSchedule.from(c, SCHEDULES, true, false));
        predictionType = c.getEnum("prediction_type", "epsilon", "epsilon", "sample", "v_prediction");
        spacing = c.getEnum("timestep_spacing", "leading", SPACINGS);
        stepsOffset = c.getInt("steps_offset", 0);
        clipSample = c.getBool("clip_sample", true);
        clipRange = c.getDouble("clip_sample_range", 1.0);
        thresholding = c.getBool("thresholding", false);
        thresholdRatio = c.getDouble("dynamic_thresholding_ratio", 0.995);
        sampleMaxValue = c.getDouble("sample_max_value", 1.0);
        finalAlphaCumprod = c.getBool("set_alpha_to_one", true) ? 1f : train.alphasCumprod[0];
        eta = c.getDouble("eta", 0.0);
        useClippedModelOutput = c.getBool("use_clipped_model_output", false);
        if (eta < 0) {
            throw c.bad("eta", "a number ≥ 0");
        }
    }

    @Override
    public boolean isStochastic() {
        return eta > 0;
    }

    @Override
    protected void computeTimesteps(int n) {
        if (n > train.numTrainTimesteps) {
            throw new IllegalArgumentException("steps (" + n + ") cannot exceed num_train_timesteps (" + train.numTrainTimesteps + ")");
        }
        timesteps = intSpacing(spacing, train.numTrainTimesteps, n, stepsOffset);
        sigmas = null;
        numInferenceSteps = n;
    }

    @Override
    public double initNoiseSigma() {
        return 1.0;
    }

    @Override
    protected NDArray doStep(NDArray model, int i, NDArray sample, NoiseSource noise) {
        int t = (int) timesteps[i];
        int prevT = t - train.numTrainTimesteps / numInferenceSteps;
        float ap = train.alphaCumprod(t);
        float app = prevT >= 0 ? train.alphaCumprod(prevT) : finalAlphaCumprod;
        float bp = 1f - ap;
        float sap = ScheduleMath.sqrtf(ap);
        float sbp = ScheduleMath.sqrtf(bp);
        // x0 = x0s * sample + x0m * model ; eps = es * sample + em * model
        double x0s;
        double x0m;
        double es;
        double em;
        switch (predictionType) {
            case "epsilon" -> {
                x0s = 1.0 / sap;
                x0m = -(double) sbp / sap;
                es = 0;
                em = 1;
            }
            case "sample" -> {
                x0s = 0;
                x0m = 1;
                es = 1.0 / sbp;
                em = -(double) sap / sbp;
            }
            default -> {
                x0s = sap;
                x0m = -sbp;
                es = sbp;
                em = sap;
            }
        }
        float variance = (1f - app) / bp * (1f - ap / app);
        float std = (float) eta * ScheduleMath.sqrtf(variance);
        float dirCoef = ScheduleMath.sqrtf(1f - app - std * std);
        float sapp = ScheduleMath.sqrtf(app);
        NDArray prev;
        if (clipSample || thresholding) {
            NDArray x0 = lin(x0s, sample, x0m, model);
            x0 = thresholding ? threshold(x0, thresholdRatio, sampleMaxValue) : x0.clip(-clipRange, clipRange);
            NDArray eps = useClippedModelOutput
                    ? lin(1.0 / sbp, sample, -(double) sap / sbp, x0)
                    : lin(es, sample, em, model);
            prev = lin(sapp, x0, dirCoef, eps);
        } else {
            // prev = sqrt(a_prev) * x0 + dir * eps, both linear in (sample, model)
            prev = lin(sapp * x0s + dirCoef * es, sample, sapp * x0m + dirCoef * em, model);
        }
        if (eta > 0) {
            NDArray z = noise.randn(model.getShape(), model.getDataType(), sample.getManager());
            prev = prev.add(z.mul((double) std));
        }
        return prev;
    }

    @Override
    protected void releaseHistory() {
    }
}
