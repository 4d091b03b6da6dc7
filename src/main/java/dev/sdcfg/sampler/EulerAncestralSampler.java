package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;

import java.util.List;

import static dev.sdcfg.sampler.SharedOptions.*;

/**
 * diffusers' {@code EulerAncestralDiscreteScheduler}: an Euler step to sigma_down plus fresh noise of sigma_up,
 * drawn every step in the model output's dtype. The step runs in float32 like diffusers.
 */
final class EulerAncestralSampler extends SigmaSampler {

    static final String CLASS = "EulerAncestralDiscreteScheduler";

    static final TrainSchedule.Args TRAIN = TrainSchedule.args(true, true, "linear", "scaled_linear", "squaredcos_cap_v2");
    static final SamplerOption<String> PREDICTION_TYPE = predictionType("epsilon", "v_prediction");
    static final List<SamplerOption<?>> OPTIONS = SamplerOption.list(common(TRAIN, PREDICTION_TYPE, TIMESTEP_SPACING),
            RESCALE_BETAS_ZERO_SNR);

    private final int stepsOffset;

    EulerAncestralSampler(String name, SamplerConfig c) {
        super(name, CLASS, c, TrainSchedule.from(c, TRAIN), c.get(PREDICTION_TYPE));
        stepsOffset = c.get(STEPS_OFFSET);
    }

    @Override
    public boolean isStochastic() {
        return true;
    }

    @Override
    protected void computeTimesteps(int n) {
        double[] ts = floatSpacing(spacing, train.numTrainTimesteps, n, stepsOffset);
        double[] sig = ScheduleMath.interp(ts, train.trainSigmas());
        sigmas = withFinalSigma(sig, 0f);
        timesteps = ts;
        numInferenceSteps = n;
    }

    @Override
    protected NDArray doStep(NDArray model, int i, NDArray sample, NoiseSource noise) {
        NDArray x = upcast(sample, model);
        float sigma = sigmas[i];
        float from = sigmas[i];
        float to = sigmas[i + 1];
        float up = ScheduleMath.sqrtf(to * to * (from * from - to * to) / (from * from));
        float down = ScheduleMath.sqrtf(to * to - up * up);
        NDArray prev = prediction(sigma).eulerStep(x, model, sigma, down - sigma);
        return toDtypeOf(addNoise(prev, up, noise, model, sample), model);
    }

    @Override
    protected void releaseHistory() {
    }
}
