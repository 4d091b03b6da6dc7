package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;

import java.util.List;

import static dev.sdcfg.sampler.SamplerOption.choice;
import static dev.sdcfg.sampler.SharedOptions.*;

/** diffusers' {@code DDPMScheduler}: ancestral sampling, noise drawn at every step with t &gt; 0. */
final class DdpmSampler extends AbstractSampler {

    static final String CLASS = "DDPMScheduler";

    static final TrainSchedule.Args TRAIN = TrainSchedule.args(true, false,
            "linear", "scaled_linear", "squaredcos_cap_v2", "laplace", "sigmoid");
    static final SamplerOption<String> PREDICTION_TYPE = predictionType("epsilon", "sample", "v_prediction");
    /** diffusers' other values (fixed_large_log, learned, learned_range) are refused with a reason. */
    static final SamplerOption<String> VARIANCE_TYPE = choice("variance_type", "fixed_small",
            List.of("fixed_small", "fixed_small_log", "fixed_large"), "posterior variance");
    static final SamplerOption<Boolean> CLIP_SAMPLE = clipSample(true);
    static final List<SamplerOption<?>> OPTIONS = SamplerOption.list(common(TRAIN, PREDICTION_TYPE, LEADING_TIMESTEP_SPACING),
            VARIANCE_TYPE, CLIP_SAMPLE, CLIP_SAMPLE_RANGE, THRESHOLDING, DYNAMIC_THRESHOLDING_RATIO, SAMPLE_MAX_VALUE,
            RESCALE_BETAS_ZERO_SNR);

    private final String predictionType;
    private final String varianceType;
    private final String spacing;
    private final int stepsOffset;
    private final X0Clamp clamp;

    DdpmSampler(String name, SamplerConfig c) {
        super(name, CLASS, c, TrainSchedule.from(c, TRAIN));
        predictionType = c.get(PREDICTION_TYPE);
        for (String refused : List.of("fixed_large_log", "learned", "learned_range")) {
            if (c.is(VARIANCE_TYPE, refused)) {
                throw c.refuse("sampler option 'variance_type' = " + refused
                        + " is not supported (learned variances need a model that predicts them; fixed_large_log yields NaN "
                        + "in diffusers); use fixed_small, fixed_small_log or fixed_large", VARIANCE_TYPE);
            }
        }
        varianceType = c.get(VARIANCE_TYPE);
        spacing = c.get(LEADING_TIMESTEP_SPACING);
        stepsOffset = c.get(STEPS_OFFSET);
        clamp = X0Clamp.clipOrThreshold(c, CLIP_SAMPLE);
    }

    @Override
    protected String modelPredictionType() {
        return predictionType;
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
