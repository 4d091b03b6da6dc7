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
    private final X0Clamp clamp;

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
        clamp = X0Clamp.clipOrThreshold(c);
    }

    @Override
    public boolean isStochastic() {
        return true;
    }

    @Override
    protected void computeTimesteps(int n) {
        setIntTimesteps(n, spacing, stepsOffset);
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
        Prediction.AlphaSigma p = Prediction.AlphaSigma.of(predictionType, ScheduleMath.sqrtf(ap), ScheduleMath.sqrtf(bp));
        float x0Coef = ScheduleMath.sqrtf(app) * curBeta / bp;
        float curCoef = ScheduleMath.sqrtf(curAlpha) * bpp / bp;
        NDArray prev;
        if (clamp.active()) {
            NDArray x0 = clamp.apply(p.x0(sample, model));
            prev = lin(x0Coef, x0, curCoef, sample);
        } else {
            prev = lin(x0Coef * p.x0Sample() + curCoef, sample, x0Coef * p.x0Model(), model);
        }
        if (t > 0) {
            float variance = Math.max((1f - app) / (1f - ap) * curBeta, 1e-20f);
            float std = switch (varianceType) {
                case "fixed_small_log" -> ScheduleMath.expf(0.5f * ScheduleMath.logf(variance));
                case "fixed_large" -> ScheduleMath.sqrtf(curBeta);
                default -> ScheduleMath.sqrtf(variance);
            };
            prev = addNoise(prev, std, noise, model, sample);
        }
        return prev;
    }

    @Override
    protected void releaseHistory() {
    }
}
