package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;
import dev.sdcfg.runtime.HostScalars;

/**
 * diffusers' {@code EulerDiscreteScheduler} (Karras et al. Algorithm 2, with optional churn). The step runs in
 * float32 like diffusers ({@code sample.to(torch.float32)}) and returns the model output's dtype.
 */
final class EulerSampler extends SigmaSampler {

    static final String CLASS = "EulerDiscreteScheduler";
    static final String[] SCHEDULES = {"linear", "scaled_linear", "squaredcos_cap_v2"};

    private final String interpolationType;
    private final String timestepType;
    private final String finalSigmasType;
    private final int stepsOffset;
    private final SigmaConversion conversion;
    private final Double cfgSigmaMin;
    private final Double cfgSigmaMax;
    private final double sChurn;
    private final double sTmin;
    private final double sTmax;
    private final double sNoise;

    EulerSampler(String name, SamplerConfig c) {
        // options are read in their long-standing order (interpolation_type before timestep_spacing): a config with
        // several bad options keeps naming the same one
        this(name, c, TrainSchedule.from(c, SCHEDULES, true, true),
                c.getEnum("prediction_type", "epsilon", "epsilon", "v_prediction", "sample", "original_sample"),
                c.getEnum("interpolation_type", "linear", "linear", "log_linear"));
    }

    private EulerSampler(String name, SamplerConfig c, TrainSchedule train, String predictionType, String interpolationType) {
        super(name, CLASS, c, train, predictionType);
        this.interpolationType = interpolationType;
        timestepType = c.getEnum("timestep_type", "discrete", "discrete", "continuous");
        finalSigmasType = c.getEnum("final_sigmas_type", "zero", "zero", "sigma_min");
        stepsOffset = c.getInt("steps_offset", 0);
        conversion = SigmaConversion.from(c, true);
        cfgSigmaMin = c.getDoubleOrNull("sigma_min");
        cfgSigmaMax = c.getDoubleOrNull("sigma_max");
        sChurn = c.getDouble("s_churn", 0.0);
        sTmin = c.getDouble("s_tmin", 0.0);
        sTmax = c.getDouble("s_tmax", Double.POSITIVE_INFINITY);
        sNoise = c.getDouble("s_noise", 1.0);
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
        double[] ts = floatSpacing(spacing, T, n, stepsOffset);
        float[] trainSigmas = train.trainSigmas();
        float[] logSigmas = ScheduleMath.logf(trainSigmas);
        double[] sig;
        if ("linear".equals(interpolationType)) {
            sig = ScheduleMath.interp(ts, trainSigmas);
        } else {
            // torch.linspace(np.log(sigmas[-1]), np.log(sigmas[0]), n + 1).exp(): float32 throughout
            float[] l = ScheduleMath.torchLinspace(logSigmas[T - 1], logSigmas[0], n + 1);
            sig = new double[l.length];
            for (int i = 0; i < l.length; i++) {
                sig[i] = ScheduleMath.expf(l[i]);
            }
        }
        if (conversion != SigmaConversion.NONE) {
            sig = conversion.convert(sig, n, cfgSigmaMin, cfgSigmaMax);
            ts = SigmaConversion.toTimesteps(sig, logSigmas);
        }
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
