package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;
import dev.sdcfg.runtime.HostScalars;

/**
 * The Karras-style samplers on the sigma ODE (Euler, Euler ancestral, Heun, LMS): they share prediction_type,
 * timestep_spacing (default linspace), the model-input scaling 1 / sqrt(sigma² + 1) and init_noise_sigma.
 */
abstract class SigmaSampler extends AbstractSampler {

    protected final String predictionType;
    protected final String spacing;

    /**
     * Reads timestep_spacing; the subclass reads prediction_type (its own allowed values) before it, and its other
     * options after it, in the order that decides which bad option a config with several is reported for.
     */
    SigmaSampler(String name, String diffusersClass, SamplerConfig c, TrainSchedule train, String predictionType) {
        super(name, diffusersClass, c, train);
        this.predictionType = predictionType;
        spacing = c.get(SharedOptions.TIMESTEP_SPACING);
    }

    @Override
    public double initNoiseSigma() {
        float max = (float) ScheduleMath.max(sigmas);
        return "leading".equals(spacing) ? ScheduleMath.sqrtf(max * max + 1f) : max;
    }

    @Override
    protected NDArray scale(NDArray sample, int i) {
        float s = sigmas[i];
        return HostScalars.div(sample, ScheduleMath.sqrtf(s * s + 1f));
    }

    @Override
    protected String modelPredictionType() {
        return predictionType;
    }

    /** x0 in the sigma form x = x0 + sigma·eps, at the sigma of the sample model call {@code stepIndex} sees. */
    @Override
    public NDArray denoised(NDArray modelOutput, int stepIndex, NDArray sample) {
        checkIndex(stepIndex);
        return prediction(modelSigma(stepIndex)).x0(sample, modelOutput);
    }

    /** The sigma of the sample that model call {@code i} sees ({@code sigmas[i]}; KDPM2's second calls differ). */
    float modelSigma(int i) {
        return sigmas[i];
    }

    /** EulerDiscreteScheduler.add_noise (the same in every sigma sampler): {@code x + n · sigmas[i]}. */
    @Override
    protected NDArray noised(NDArray original, NDArray noise, int i) {
        return lin(1.0, original, sigmas[i], noise);
    }

    /** x0 = a·model + b·sample at sigma {@code s} for this sampler's prediction_type. */
    protected final Prediction.Sigma prediction(float s) {
        return Prediction.Sigma.of(predictionType, s);
    }
}
