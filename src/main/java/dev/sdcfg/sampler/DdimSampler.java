package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;

/** diffusers' {@code DDIMScheduler}; {@code eta} (default 0) and {@code use_clipped_model_output} are step options. */
final class DdimSampler extends AbstractSampler {

    static final String CLASS = "DDIMScheduler";
    static final String[] SCHEDULES = {"linear", "scaled_linear", "squaredcos_cap_v2"};

    private final String predictionType;
    private final String spacing;
    private final int stepsOffset;
    private final X0Clamp clamp;
    private final float finalAlphaCumprod;
    private final double eta;
    private final boolean useClippedModelOutput;

    DdimSampler(String name, SamplerConfig c) {
        super(name, CLASS, c, TrainSchedule.from(c, SCHEDULES, true, false));
        predictionType = c.getEnum("prediction_type", "epsilon", "epsilon", "sample", "v_prediction");
        spacing = c.getEnum("timestep_spacing", "leading", SPACINGS);
        stepsOffset = c.getInt("steps_offset", 0);
        clamp = X0Clamp.clipOrThreshold(c);
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
