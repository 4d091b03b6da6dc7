package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;
import dev.sdcfg.runtime.HostScalars;

import java.util.List;

import static dev.sdcfg.sampler.SamplerOption.choice;
import static dev.sdcfg.sampler.SamplerOption.number;
import static dev.sdcfg.sampler.SharedOptions.*;

/**
 * diffusers' {@code EulerDiscreteScheduler} (Karras et al. Algorithm 2, with optional churn). The step runs in
 * float32 like diffusers ({@code sample.to(torch.float32)}) and returns the model output's dtype.
 */
final class EulerSampler extends SigmaSampler {

    static final String CLASS = "EulerDiscreteScheduler";

    // EulerDiscreteScheduler.__init__'s arguments; OPTIONS lists them as GET /v1/samplers shows them
    static final TrainSchedule.Args TRAIN = TrainSchedule.args(true, true, "linear", "scaled_linear", "squaredcos_cap_v2");
    static final SamplerOption<String> PREDICTION_TYPE = predictionType("epsilon", "v_prediction", "sample", "original_sample");
    static final SamplerOption<String> INTERPOLATION_TYPE = choice("interpolation_type", "linear", List.of("linear", "log_linear"),
            "how sigmas are interpolated between train timesteps");
    static final SamplerOption<String> TIMESTEP_TYPE = choice("timestep_type", "discrete", List.of("discrete", "continuous"),
            "continuous: timesteps 0.25·log σ (v-prediction only)");
    static final SamplerOption<Double> S_CHURN = number("s_churn", 0.0, "stochasticity (step option); > 0 draws noise");
    static final SamplerOption<Double> S_TMIN = number("s_tmin", 0.0, "lowest sigma that gets churn (step option)");
    static final SamplerOption<Double> S_TMAX = number("s_tmax", Double.POSITIVE_INFINITY, "highest sigma that gets churn (step option)");
    static final SamplerOption<Double> S_NOISE = number("s_noise", 1.0, "scale of the churn noise (step option)");
    static final List<SamplerOption<?>> OPTIONS = SamplerOption.list(common(TRAIN, PREDICTION_TYPE, TIMESTEP_SPACING), SIGMA_OPTIONS,
            INTERPOLATION_TYPE, TIMESTEP_TYPE, FINAL_SIGMAS_TYPE, RESCALE_BETAS_ZERO_SNR, S_CHURN, S_TMIN, S_TMAX, S_NOISE);

    private final String interpolationType;
    private final String timestepType;
    private final String finalSigmasType;
    private final int stepsOffset;
    private final SigmaSchedule sigmaSchedule;
    private final double sChurn;
    private final double sTmin;
    private final double sTmax;
    private final double sNoise;

    EulerSampler(String name, SamplerConfig c) {
        // options are read in their long-standing order (interpolation_type before timestep_spacing): a config with
        // several bad options keeps naming the same one
        this(name, c, TrainSchedule.from(c, TRAIN), c.get(PREDICTION_TYPE), c.get(INTERPOLATION_TYPE));
    }

    private EulerSampler(String name, SamplerConfig c, TrainSchedule train, String predictionType, String interpolationType) {
        super(name, CLASS, c, train, predictionType);
        this.interpolationType = interpolationType;
        timestepType = c.get(TIMESTEP_TYPE);
        finalSigmasType = c.get(FINAL_SIGMAS_TYPE);
        stepsOffset = c.get(STEPS_OFFSET);
        sigmaSchedule = new SigmaSchedule(SigmaConversion.from(c), c.get(SIGMA_MIN), c.get(SIGMA_MAX));
        sChurn = c.get(S_CHURN);
        sTmin = c.get(S_TMIN);
        sTmax = c.get(S_TMAX);
        sNoise = c.get(S_NOISE);
        if (sChurn < 0) {
            throw c.bad("s_churn", "a number ≥ 0");
        }
    }

    @Override
    public boolean isStochastic() {
        return sChurn > 0;
    }

    @Override
    protected void computeTimesteps(int n) {
        int T = train.numTrainTimesteps;
        double[] spaced = floatSpacing(spacing, T, n, stepsOffset);
        float[] trainSigmas = train.trainSigmas();
        double[] interpolated;
        if ("linear".equals(interpolationType)) {
            interpolated = ScheduleMath.interp(spaced, trainSigmas);
        } else {
            // torch.linspace(np.log(sigmas[-1]), np.log(sigmas[0]), n + 1).exp(): float32 throughout
            float[] logSigmas = ScheduleMath.logf(trainSigmas);
            float[] l = ScheduleMath.torchLinspace(logSigmas[T - 1], logSigmas[0], n + 1);
            interpolated = new double[l.length];
            for (int i = 0; i < l.length; i++) {
                interpolated[i] = ScheduleMath.expf(l[i]);
            }
        }
        SigmaSchedule.Result s = sigmaSchedule.apply(train, spaced, interpolated, n, false);
        double[] ts = s.timesteps();
        double[] sig = s.sigmas();
        double last = "sigma_min".equals(finalSigmasType)
                ? ScheduleMath.sigmaFromAlphaCumprod(train.alphasCumprod[0]) : 0.0;
        sigmas = withFinalSigma(sig, (float) last);
        if ("continuous".equals(timestepType) && "v_prediction".equals(predictionType)) {
            timesteps = new double[sigmas.length - 1];
            for (int i = 0; i < timesteps.length; i++) {
                timesteps[i] = 0.25f * ScheduleMath.logf(sigmas[i]);
            }
        } else {
            timesteps = float32(ts);
        }
        numInferenceSteps = n;
    }

    @Override
    protected NDArray doStep(NDArray model, int i, NDArray sample, NoiseSource noise) {
        NDArray x = upcast(sample, model);
        float sigma = sigmas[i];
        double gamma = sTmin <= sigma && sigma <= sTmax ? Math.min(sChurn / (sigmas.length - 1), Math.sqrt(2) - 1) : 0.0;
        float sigmaHat = sigma * (float) (gamma + 1);
        if (gamma > 0) {
            NDArray eps = noise.randn(model.getShape(), model.getDataType(), sample.getManager());
            float churn = ScheduleMath.sqrtf(sigmaHat * sigmaHat - sigma * sigma);
            x = x.add(HostScalars.mul(HostScalars.mul(eps, sNoise), churn));
        }
        // pred_original_sample uses sigma_hat for epsilon but sigma for v_prediction, as in diffusers
        Prediction.Sigma p = Prediction.Sigma.of(predictionType, sigmaHat, sigma);
        return toDtypeOf(p.eulerStep(x, model, sigmaHat, sigmas[i + 1] - sigmaHat), model);
    }

    @Override
    protected void releaseHistory() {
    }
}
