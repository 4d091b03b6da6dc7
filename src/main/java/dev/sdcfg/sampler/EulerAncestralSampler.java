package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;

/**
 * diffusers' {@code EulerAncestralDiscreteScheduler}: an Euler step to sigma_down plus fresh noise of sigma_up,
 * drawn every step in the model output's dtype. The step runs in float32 like diffusers.
 */
final class EulerAncestralSampler extends AbstractSampler {

    static final String CLASS = "EulerAncestralDiscreteScheduler";
    static final String[] SCHEDULES = {"linear", "scaled_linear", "squaredcos_cap_v2"};

    private final String predictionType;
    private final String spacing;
    private final int stepsOffset;

    EulerAncestralSampler(String name, SamplerConfig c) {
        super(name, CLASS, c, TrainSchedule.from(c, SCHEDULES, true, true));
        predictionType = c.getEnum("prediction_type", "epsilon", "epsilon", "v_prediction");
        spacing = c.getEnum("timestep_spacing", "linspace", SPACINGS);
        stepsOffset = c.getInt("steps_offset", 0);
    }

    @Override
    public boolean isStochastic() {
        return true;
    }

    @Override
    protected void computeTimesteps(int n) {
        double[] ts = floatSpacing(spacing, train.numTrainTimesteps, n, stepsOffset);
        double[] sig = ScheduleMath.interp(ts, train.trainSigmas());
        sigmas = new float[sig.length + 1];
        for (int i = 0; i < sig.length; i++) {
            sigmas[i] = (float) sig[i];
        }
        timesteps = ts;
        numInferenceSteps = n;
    }

    @Override
    public double initNoiseSigma() {
        float max = (float) ScheduleMath.max(sigmas);
        return "leading".equals(spacing) ? ScheduleMath.sqrtf(max * max + 1f) : max;
    }

    @Override
    protected NDArray scale(NDArray sample, int i) {
        float s = sigmas[i];
        return sample.div((double) ScheduleMath.sqrtf(s * s + 1f));
    }

    @Override
    protected NDArray doStep(NDArray model, int i, NDArray sample, NoiseSource noise) {
        NDArray x = upcast(sample, model);
        float sigma = sigmas[i];
        double a;
        double b;
        if ("epsilon".equals(predictionType)) {
            a = -sigma;
            b = 1;
        } else {
            a = -sigma / ScheduleMath.sqrtf(sigma * sigma + 1f);
            b = 1.0 / (sigma * sigma + 1f);
        }
        float from = sigmas[i];
        float to = sigmas[i + 1];
        float up = ScheduleMath.sqrtf(to * to * (from * from - to * to) / (from * from));
        float down = ScheduleMath.sqrtf(to * to - up * up);
        float dt = down - sigma;
        double cx = b == 1 ? 1.0 : 1.0 + (1 - b) / sigma * dt;
        double cm = (-a / sigma) * dt;
        NDArray prev = lin(cx, x, cm, model);
        NDArray eps = noise.randn(model.getShape(), model.getDataType(), sample.getManager());
        prev = prev.add(eps.mul((double) up));
        return toDtypeOf(prev, model);
    }

    @Override
    protected void releaseHistory() {
    }
}
