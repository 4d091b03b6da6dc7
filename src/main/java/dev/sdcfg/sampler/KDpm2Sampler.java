package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;
import dev.sdcfg.runtime.HostScalars;

import java.util.List;

import static dev.sdcfg.sampler.SharedOptions.*;

/**
 * diffusers' {@code KDPM2DiscreteScheduler} (k-diffusion's {@code sample_dpm_2}) and
 * {@code KDPM2AncestralDiscreteScheduler} ({@code sample_dpm_2_ancestral}): two model calls per step — an Euler
 * step to a sigma interpolated in log space, then the midpoint (DPM-Solver-2) update from the held sample with the
 * derivative evaluated there. The ancestral variant steps to {@code sigma_down} and adds fresh noise of
 * {@code sigma_up} after each second call.
 *
 * <p>Like diffusers, the schedule is kept in its interleaved form: {@link #sigmas()} is
 * {@code [s0, s1, s1, ..., s_{n-1}, s_{n-1}, 0, 0, 0]} and {@link #timesteps()} lists every model call
 * ({@code 2·steps − 1}: the last step ends at sigma 0 in its first call). The calls alternate first / second order,
 * decided, as in diffusers, by whether a first-order sample is held. Scalars are float32 like diffusers' tensors; the
 * sample math stays in the sample's dtype (diffusers does not upcast here).
 */
final class KDpm2Sampler extends SigmaSampler {

    static final String CLASS = "KDPM2DiscreteScheduler";
    static final String ANCESTRAL_CLASS = "KDPM2AncestralDiscreteScheduler";

    // the arguments of both classes
    static final TrainSchedule.Args TRAIN = TrainSchedule.args(0.00085, 0.012, false, false,
            "linear", "scaled_linear", "squaredcos_cap_v2");
    /** epsilon or v_prediction: diffusers accepts "sample" in the config but raises NotImplementedError in step. */
    static final SamplerOption<String> PREDICTION_TYPE = predictionType("epsilon", "v_prediction");
    static final List<SamplerOption<?>> OPTIONS = SamplerOption.list(common(TRAIN, PREDICTION_TYPE, TIMESTEP_SPACING), SIGMA_OPTIONS);

    private final boolean ancestral;
    private final int stepsOffset;
    private final SigmaSchedule sigmaSchedule;

    /** Interleaved like {@link #sigmas}: sigmas_interpol, and (ancestral only) sigmas_up / sigmas_down. */
    private float[] interpol;
    private float[] up;
    private float[] down;

    /** The sample before the first-order half of the current step (diffusers' {@code self.sample}). */
    private NDArray held;

    private KDpm2Sampler(String name, String cls, SamplerConfig c, boolean ancestral) {
        super(name, cls, c, TrainSchedule.from(c, TRAIN), c.get(PREDICTION_TYPE));
        this.ancestral = ancestral;
        stepsOffset = c.get(STEPS_OFFSET);
        // _convert_to_* consult config.sigma_min / sigma_max when the config has them (hasattr)
        sigmaSchedule = new SigmaSchedule(SigmaConversion.from(c), c.get(SIGMA_MIN), c.get(SIGMA_MAX));
    }

    /** {@code KDPM2DiscreteScheduler}. */
    static KDpm2Sampler discrete(String name, SamplerConfig c) {
        return new KDpm2Sampler(name, CLASS, c, false);
    }

    /** {@code KDPM2AncestralDiscreteScheduler}. */
    static KDpm2Sampler ancestral(String name, SamplerConfig c) {
        return new KDpm2Sampler(name, ANCESTRAL_CLASS, c, true);
    }

    @Override
    public int order() {
        return 2;
    }

    @Override
    public boolean isStochastic() {
        return ancestral;
    }

    @Override
    protected void computeTimesteps(int n) {
        double[] spaced = floatSpacing(spacing, train.numTrainTimesteps, n, stepsOffset);
        // only the Karras branch rounds; the timesteps stay float64 in all three
        SigmaSchedule.Result r = sigmaSchedule.apply(train, spaced, n, SigmaSchedule.Range.SPACED, true);
        double[] ts = r.timesteps();
        double[] sig = r.sigmas();
        float[] logSigmas = ScheduleMath.logf(train.trainSigmas());
        float[] s = withFinalSigma(sig, 0f); // n + 1 values, float32
        float[] interp = new float[n + 1];
        float[] u = null;
        float[] d = null;
        if (!ancestral) {
            // sigmas.log().lerp(sigmas.roll(1).log(), 0.5).exp(): entry k between s_{k-1} and s_k (k = 0 is NaN)
            for (int k = 0; k <= n; k++) {
                interp[k] = logLerpHalf(s[k], s[(k + n) % (n + 1)]);
            }
        } else {
            u = new float[n + 1];
            d = new float[n + 1];
            for (int k = 0; k <= n; k++) {
                float sk = s[k];
                float next = k < n ? s[k + 1] : 0f;
                u[k] = ScheduleMath.sqrtf(next * next * (sk * sk - next * next) / (sk * sk));
                d[k] = k < n ? ScheduleMath.sqrtf(next * next - u[k] * u[k]) : 0f;
            }
            for (int k = 0; k <= n; k++) {
                interp[k] = k >= n - 1 ? 0f : logLerpHalf(s[k], d[k]);
            }
        }
        sigmas = interleave(s);
        interpol = interleave(interp);
        up = ancestral ? interleave(u) : null;
        down = ancestral ? interleave(d) : null;

        // timesteps of the interpolated sigmas: _sigma_to_t on torch float32 tensors
        double[] ti = new double[n + 1];
        for (int k = 0; k <= n; k++) {
            ti[k] = ScheduleMath.sigmaToTf32(interp[k], logSigmas);
        }
        // KDPM2: [t0, ti_1, t_1, ..., ti_{n-1}, t_{n-1}]; ancestral: [t0, ti_0, t_1, ..., ti_{n-2}, t_{n-1}]
        int shift = ancestral ? 1 : 0;
        timesteps = new double[2 * n - 1];
        timesteps[0] = ts[0];
        for (int k = 1; k < n; k++) {
            timesteps[2 * k - 1] = ti[k - shift];
            timesteps[2 * k] = ts[k];
        }
        numInferenceSteps = n;
    }

    /** {@code exp(lerp(log a, log b, 0.5))} in float32, as torch: {@code end - (end - start) * 0.5}. */
    private static float logLerpHalf(float a, float b) {
        float start = ScheduleMath.logf(a);
        float end = ScheduleMath.logf(b);
        return ScheduleMath.expf(end - (end - start) * 0.5f);
    }

    /** {@code cat([a[:1], a[1:].repeat_interleave(2), a[-1:]])}. */
    private static float[] interleave(float[] a) {
        int m = a.length;
        float[] out = new float[2 * m];
        out[0] = a[0];
        for (int k = 1; k < m; k++) {
            out[2 * k - 1] = a[k];
            out[2 * k] = a[k];
        }
        out[2 * m - 1] = a[m - 1];
        return out;
    }

    @Override
    protected NDArray scale(NDArray sample, int i) {
        float s = modelSigma(i);
        return HostScalars.div(sample, ScheduleMath.sqrtf(s * s + 1f));
    }

    /**
     * The sigma of the sample that model call {@code i} sees (its input is scaled by {@code 1 / sqrt(sigma² + 1)}):
     * {@code sigmas[i]} on a first-order call, the interpolated sigma on a second-order one (which call comes next
     * is the sampler's state, as in diffusers).
     */
    @Override
    float modelSigma(int i) {
        return held == null ? sigmas[i] : interpol[ancestral ? i - 1 : i];
    }

    @Override
    protected NDArray doStep(NDArray model, int i, NDArray sample, NoiseSource noise) {
        if (held == null) {
            // first order: Euler step from sigma to the interpolated sigma (gamma = 0: sigma_hat = sigma)
            float sigma = sigmas[i];
            float sigmaInterpol = ancestral ? interpol[i] : interpol[i + 1];
            NDArray prev = prediction(sigma).eulerStep(sample, model, sigma, sigmaInterpol - sigma);
            held = keepCopy(sample);
            return prev;
        }
        // second order: the derivative at the interpolated sigma, applied from the held sample
        int j = ancestral ? i - 1 : i;
        float sigma = sigmas[i - 1];
        float sigmaInterpol = interpol[j];
        float target = ancestral ? down[i - 1] : sigmas[i];
        NDArray derivative = prediction(sigmaInterpol).derivative(sample, model, sigmaInterpol);
        NDArray prev = lin(1.0, held, target - sigma, derivative);
        releaseHistory();
        if (ancestral) {
            prev = addNoise(prev, up[i - 1], noise, model, sample);
        }
        return prev;
    }

    @Override
    protected void releaseHistory() {
        free(held);
        held = null;
    }
}
