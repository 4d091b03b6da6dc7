package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;

import java.util.List;

import static dev.sdcfg.sampler.SamplerOption.bool;
import static dev.sdcfg.sampler.SamplerOption.number;
import static dev.sdcfg.sampler.SharedOptions.*;

/** diffusers' {@code DDIMScheduler}; {@code eta} (default 0) and {@code use_clipped_model_output} are step options. */
final class DdimSampler extends AbstractSampler {

    static final String CLASS = "DDIMScheduler";

    static final TrainSchedule.Args TRAIN = TrainSchedule.args(true, false, "linear", "scaled_linear", "squaredcos_cap_v2");
    static final SamplerOption<String> PREDICTION_TYPE = predictionType("epsilon", "sample", "v_prediction");
    static final SamplerOption<Boolean> CLIP_SAMPLE = clipSample(true);
    static final SamplerOption<Boolean> SET_ALPHA_TO_ONE = setAlphaToOne(true);
    static final SamplerOption<Double> ETA = number("eta", 0.0, "noise weight (step option); > 0 draws noise");
    static final SamplerOption<Boolean> USE_CLIPPED_MODEL_OUTPUT = bool("use_clipped_model_output", false,
            "re-derive eps from the clipped x0 (step option)");
    static final List<SamplerOption<?>> OPTIONS = SamplerOption.list(common(TRAIN, PREDICTION_TYPE, LEADING_TIMESTEP_SPACING),
            CLIP_SAMPLE, CLIP_SAMPLE_RANGE, SET_ALPHA_TO_ONE, THRESHOLDING, DYNAMIC_THRESHOLDING_RATIO, SAMPLE_MAX_VALUE,
            RESCALE_BETAS_ZERO_SNR, ETA, USE_CLIPPED_MODEL_OUTPUT);

    private final String predictionType;
    private final String spacing;
    private final int stepsOffset;
    private final X0Clamp clamp;
    private final float finalAlphaCumprod;
    private final double eta;
    private final boolean useClippedModelOutput;

    DdimSampler(String name, SamplerConfig c) {
        super(name, CLASS, c, TrainSchedule.from(c, TRAIN));
        predictionType = c.get(PREDICTION_TYPE);
        spacing = c.get(LEADING_TIMESTEP_SPACING);
        stepsOffset = c.get(STEPS_OFFSET);
        clamp = X0Clamp.clipOrThreshold(c, CLIP_SAMPLE);
        finalAlphaCumprod = c.get(SET_ALPHA_TO_ONE) ? 1f : train.alphasCumprod[0];
        eta = c.get(ETA);
        useClippedModelOutput = c.get(USE_CLIPPED_MODEL_OUTPUT);
        if (eta < 0) {
            throw c.bad("eta", "a number ≥ 0");
        }
    }

    @Override
    protected String modelPredictionType() {
        return predictionType;
    }

    @Override
    public boolean isStochastic() {
        return eta > 0;
    }

    @Override
    protected void computeTimesteps(int n) {
        setIntTimesteps(n, spacing, stepsOffset);
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
        Prediction.AlphaSigma p = Prediction.AlphaSigma.of(predictionType, sap, sbp);
        float variance = (1f - app) / bp * (1f - ap / app);
        float std = (float) eta * ScheduleMath.sqrtf(variance);
        float dirCoef = ScheduleMath.sqrtf(1f - app - std * std);
        float sapp = ScheduleMath.sqrtf(app);
        NDArray prev;
        if (clamp.active()) {
            NDArray x0 = clamp.apply(p.x0(sample, model));
            NDArray eps = useClippedModelOutput
                    ? Prediction.AlphaSigma.epsFromX0(sample, x0, sap, sbp)
                    : p.eps(sample, model);
            prev = lin(sapp, x0, dirCoef, eps);
        } else {
            // prev = sqrt(a_prev) * x0 + dir * eps, both linear in (sample, model)
            prev = lin(sapp * p.x0Sample() + dirCoef * p.epsSample(), sample, sapp * p.x0Model() + dirCoef * p.epsModel(), model);
        }
        if (eta > 0) {
            prev = addNoise(prev, std, noise, model, sample);
        }
        return prev;
    }

    @Override
    protected void releaseHistory() {
    }
}
