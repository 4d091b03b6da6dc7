package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;
import dev.sdcfg.runtime.HostScalars;

import java.util.List;

import static dev.sdcfg.sampler.SharedOptions.*;

/**
 * diffusers' {@code HeunDiscreteScheduler} (Karras et al. Algorithm 1 without churn): two model calls per step —
 * an Euler predictor then the trapezoidal corrector. {@link #timesteps()} lists every model call
 * ({@code 2·steps − 1}: the last step has no corrector since it ends at sigma 0).
 */
final class HeunSampler extends SigmaSampler {

    static final String CLASS = "HeunDiscreteScheduler";

    static final TrainSchedule.Args TRAIN = TrainSchedule.args(0.00085, 0.012, false, false,
            "linear", "scaled_linear", "squaredcos_cap_v2", "exp");
    static final SamplerOption<String> PREDICTION_TYPE = predictionType("epsilon", "v_prediction", "sample");
    static final SamplerOption<Boolean> CLIP_SAMPLE = clipSample(false);
    static final List<SamplerOption<?>> OPTIONS = SamplerOption.list(common(TRAIN, PREDICTION_TYPE, TIMESTEP_SPACING), SIGMA_OPTIONS,
            CLIP_SAMPLE, CLIP_SAMPLE_RANGE);

    private final int stepsOffset;
    private final SigmaSchedule sigmaSchedule;
    private final boolean clipSample;
    private final double clipRange;

    // state between the predictor and the corrector
    private NDArray prevDerivative;
    private NDArray heldSample;
    private Float dt;

    HeunSampler(String name, SamplerConfig c) {
        super(name, CLASS, c, TrainSchedule.from(c, TRAIN), c.get(PREDICTION_TYPE));
        stepsOffset = c.get(STEPS_OFFSET);
        sigmaSchedule = new SigmaSchedule(SigmaConversion.from(c), c.get(SIGMA_MIN), c.get(SIGMA_MAX));
        clipSample = c.get(CLIP_SAMPLE);
        clipRange = c.get(CLIP_SAMPLE_RANGE);
    }

    @Override
    public int order() {
        return 2;
    }

    @Override
    protected void computeTimesteps(int n) {
        double[] spaced = floatSpacing(spacing, train.numTrainTimesteps, n, stepsOffset);
        SigmaSchedule.Result s = sigmaSchedule.apply(train, spaced, n, SigmaSchedule.Range.SPACED, false);
        double[] ts = s.timesteps();
        double[] sig = s.sigmas();
        // sigmas: [s0, s1, s1, s2, s2, ..., s_{n-1}, s_{n-1}, 0]; timesteps: [t0, t1, t1, ..., t_{n-1}, t_{n-1}]
        int m = sig.length;
        sigmas = new float[2 * m];
        sigmas[0] = (float) sig[0];
        for (int i = 1; i < m; i++) {
            sigmas[2 * i - 1] = (float) sig[i];
            sigmas[2 * i] = (float) sig[i];
        }
        sigmas[2 * m - 1] = 0f;
        timesteps = new double[2 * ts.length - 1];
        timesteps[0] = (float) ts[0];
        for (int i = 1; i < ts.length; i++) {
            timesteps[2 * i - 1] = (float) ts[i];
            timesteps[2 * i] = (float) ts[i];
        }
        numInferenceSteps = n;
    }

    @Override
    protected NDArray doStep(NDArray model, int i, NDArray sample, NoiseSource noise) {
        boolean first = dt == null;
        float sigma = first ? sigmas[i] : sigmas[i - 1];
        float sigmaNext = first ? sigmas[i + 1] : sigmas[i];
        float sigmaHat = sigma; // gamma = 0
        float sigmaInput = first ? sigmaHat : sigmaNext;
        Prediction.Sigma p = prediction(sigmaInput);
        float denom = first ? sigmaHat : sigmaNext;
        NDArray derivative;
        if (clipSample) {
            NDArray pred = p.x0(sample, model).clip(-clipRange, clipRange);
            derivative = HostScalars.div(sample.sub(pred), denom);
        } else {
            derivative = p.derivative(sample, model, denom);
        }
        if (first) {
            float step = sigmaNext - sigmaHat;
            NDArray prev = lin(1.0, sample, step, derivative);
            prevDerivative = keep(derivative);
            heldSample = keepCopy(sample);
            dt = step;
            return prev;
        }
        // trapezoid: held + (prev_derivative + derivative) / 2 * dt
        float step = dt;
        NDArray prev = lin(new double[] {1.0, step / 2.0, step / 2.0}, heldSample, prevDerivative, derivative);
        releaseHistory();
        return prev;
    }

    @Override
    protected void releaseHistory() {
        free(prevDerivative);
        free(heldSample);
        prevDerivative = null;
        heldSample = null;
        dt = null;
    }
}
