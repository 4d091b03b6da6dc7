package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;

/** diffusers' {@code DDPMScheduler}: ancestral sampling, noise drawn at every step with t &gt; 0. */
final class DdpmSampler extends AbstractSampler {

    static final String CLASS = "DDPMScheduler";
    static final String[] SCHEDULES = {"linear", "scaled_linear", "squaredcos_cap_v2", "laplace", "sigmoid"};

    private final String predictionType;
    private final String varianceType;
    private final String spacing;
    private final int stepsOffset;
    private final boolean clipSample;
    private final double clipRange;
    private final boolean thresholding;
    private final double thresholdRatio;
    private final double sampleMaxValue;

    DdpmSampler(String name, SamplerConfig c) {
        super(name, CLASS, c, TrainSchedule.from(c, SCHEDULES, true, false));
        predictionType = c.getEnum("prediction_type", "epsilon", "epsilon", "sample", "v_prediction");
        varianceType = c.getEnum("variance_type", "fixed_small", "fixed_small", "fixed_small_log", "fixed_large",
                "fixed_large_log", "learned", "learned_range");
        if (!varianceType.equals("fixed_small") && !varianceType.equals("fixed_small_log") && !varianceType.equals("fixed_large")) {
            throw new IllegalArgumentException("sampler option 'variance_type' = " + varianceType
                    + " is not supported (learned variances need a model that predicts them; fixed_large_log yields NaN "
                    + "in diffusers); use fixed_small, fixed_small_log or fixed_large");
        }
        spacing = c.getEnum("timestep_spacing", "leading", SPACINGS);
        stepsOffset = c.getInt("steps_offset", 0);
        clipSample = c.getBool("clip_sample", true);
        clipRange = c.getDouble("clip_sample_range", 1.0);
        thresholding = c.getBool("thresholding", false);
        thresholdRatio = c.getDouble("dynamic_thresholding_ratio", 0.995);
        sampleMaxValue = c.getDouble("sample_max_value", 1.0);
    }

    @Override
    public boolean isStochastic() {
        return true;
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
        int prevT = i == timesteps.length - 1 ? -1 : (int) timesteps[i + 1];
        float ap = train.alphaCumprod(t);
        float app = prevT >= 0 ? train.alphaCumprod(prevT) : 1f;
        float bp = 1f - ap;
        float bpp = 1f - app;
        float curAlpha = ap / app;
        float curBeta = 1f - curAlpha;
        double x0s;
        double x0m;
        switch (predictionType) {
            case "epsilon" -> {
                float sap = ScheduleMath.sqrtf(ap);
                x0s = 1.0 / sap;
                x0m = -(double) ScheduleMath.sqrtf(bp) / sap;
            }
            case "sample" -> {
                x0s = 0;
                x0m = 1;
            }
            default -> {
                x0s = ScheduleMath.sqrtf(ap);
                x0m = -ScheduleMath.sqrtf(bp);
            }
        }
        float x0Coef = ScheduleMath.sqrtf(app) * curBeta / bp;
        float curCoef = ScheduleMath.sqrtf(curAlpha) * bpp / bp;
        NDArray prev;
        if (clipSample || thresholding) {
            NDArray x0 = lin(x0s, sample, x0m, model);
            x0 = thresholding ? threshold(x0, thresholdRatio, sampleMaxValue) : x0.clip(-clipRange, clipRange);
            prev = lin(x0Coef, x0, curCoef, sample);
        } else {
            prev = lin(x0Coef * x0s + curCoef, sample, x0Coef * x0m, model);
        }
        if (t > 0) {
            NDArray z = noise.randn(model.getShape(), model.getDataType(), sample.getManager());
            float variance = Math.max((1f - app) / (1f - ap) * curBeta, 1e-20f);
            float std = switch (varianceType) {
                case "fixed_small_log" -> ScheduleMath.expf(0.5f * ScheduleMath.logf(variance));
                case "fixed_large" -> ScheduleMath.sqrtf(curBeta);
                default -> ScheduleMath.sqrtf(variance);
            };
            prev = prev.add(z.mul((double) std));
        }
        return prev;
    }

    @Override
    protected void releaseHistory() {
    }
}
