package dev.sdcfg.sampler;

/**
 * The training noise schedule shared by all samplers: float32 {@code betas} and {@code alphas_cumprod}, built
 * exactly as diffusers builds them in torch float32.
 */
final class TrainSchedule {

    final int numTrainTimesteps;
    /** The config's beta_schedule (not checked when trained_betas replace it, as in diffusers). */
    final String betaSchedule;
    final float[] betas;
    final float[] alphasCumprod;

    private TrainSchedule(int numTrainTimesteps, String betaSchedule, float[] betas, float[] alphasCumprod) {
        this.numTrainTimesteps = numTrainTimesteps;
        this.betaSchedule = betaSchedule;
        this.betas = betas;
        this.alphasCumprod = alphasCumprod;
    }

    /**
     * A class's training-schedule options: beta_start / beta_end defaults and the beta_schedule values vary by class.
     *
     * @param zeroSnr whether the class has {@code rescale_betas_zero_snr}
     * @param zeroSnrPinsLast whether the class then sets {@code alphas_cumprod[-1] = 2**-24} (the sigma-based ones)
     */
    record Args(SamplerOption<Double> betaStart, SamplerOption<Double> betaEnd, SamplerOption<String> betaSchedule,
            boolean zeroSnr, boolean zeroSnrPinsLast) {
    }

    /** beta_start 0.0001, beta_end 0.02 (most classes). */
    static Args args(boolean zeroSnr, boolean zeroSnrPinsLast, String... schedules) {
        return args(0.0001, 0.02, zeroSnr, zeroSnrPinsLast, schedules);
    }

    static Args args(double betaStart, double betaEnd, boolean zeroSnr, boolean zeroSnrPinsLast, String... schedules) {
        return new Args(SharedOptions.betaStart(betaStart), SharedOptions.betaEnd(betaEnd), SharedOptions.betaSchedule(schedules),
                zeroSnr, zeroSnrPinsLast);
    }

    static TrainSchedule from(SamplerConfig c, Args a) {
        int T = c.get(SharedOptions.NUM_TRAIN_TIMESTEPS);
        if (T < 2) {
            throw c.bad("num_train_timesteps", "an integer ≥ 2");
        }
        double betaStart = c.get(a.betaStart());
        double betaEnd = c.get(a.betaEnd());
        float[] betas;
        String schedule;
        double[] trained = c.get(SharedOptions.TRAINED_BETAS);
        if (trained != null) {
            if (trained.length != T) {
                throw c.bad("trained_betas", "an array of num_train_timesteps (" + T + ") numbers", SharedOptions.NUM_TRAIN_TIMESTEPS);
            }
            betas = ScheduleMath.toFloat(trained);
            schedule = c.unchecked(a.betaSchedule());
        } else {
            schedule = c.get(a.betaSchedule());
            betas = betas(schedule, betaStart, betaEnd, T);
        }
        boolean rescale = a.zeroSnr() && c.get(SharedOptions.RESCALE_BETAS_ZERO_SNR);
        if (rescale) {
            betas = rescaleZeroTerminalSnr(betas);
        }
        float[] alphas = new float[T];
        for (int i = 0; i < T; i++) {
            alphas[i] = 1f - betas[i];
        }
        float[] ac = ScheduleMath.cumprod(alphas);
        if (rescale && a.zeroSnrPinsLast()) {
            ac[T - 1] = (float) Math.pow(2, -24);
        }
        for (int i = 0; i < T; i++) {
            if (!(betas[i] >= 0 && betas[i] <= 1)) {
                String expected = "betas in [0, 1], got beta[" + i + "] = " + betas[i];
                throw trained != null ? c.bad("trained_betas", expected)
                        : c.bad("beta_end", expected, a.betaStart(), a.betaSchedule(), SharedOptions.NUM_TRAIN_TIMESTEPS);
            }
        }
        return new TrainSchedule(T, schedule, betas, ac);
    }

    static float[] betas(String schedule, double betaStart, double betaEnd, int T) {
        switch (schedule) {
            case "linear":
                return ScheduleMath.torchLinspace(betaStart, betaEnd, T);
            case "scaled_linear": {
                float[] l = ScheduleMath.torchLinspace(Math.sqrt(betaStart), Math.sqrt(betaEnd), T);
                for (int i = 0; i < T; i++) {
                    l[i] = l[i] * l[i];
                }
                return l;
            }
            case "squaredcos_cap_v2":
                return betasForAlphaBar(T, "cosine");
            case "exp":
                return betasForAlphaBar(T, "exp");
            case "laplace":
                return betasForAlphaBar(T, "laplace");
            case "sigmoid": {
                float[] l = ScheduleMath.torchLinspace(-6, 6, T);
                float scale = (float) (betaEnd - betaStart);
                float shift = (float) betaStart;
                for (int i = 0; i < T; i++) {
                    float sig = (float) (1.0 / (1.0 + Math.exp(-l[i])));
                    l[i] = sig * scale + shift;
                }
                return l;
            }
            default:
                throw new IllegalArgumentException("unknown beta_schedule " + schedule);
        }
    }

    /** diffusers' {@code betas_for_alpha_bar} (max_beta 0.999), computed in Python floats then stored as float32. */
    static float[] betasForAlphaBar(int T, String type) {
        float[] out = new float[T];
        for (int i = 0; i < T; i++) {
            double t1 = (double) i / T;
            double t2 = (double) (i + 1) / T;
            out[i] = (float) Math.min(1 - alphaBar(t2, type) / alphaBar(t1, type), 0.999);
        }
        return out;
    }

    private static double alphaBar(double t, String type) {
        switch (type) {
            case "cosine": {
                double c = Math.cos((t + 0.008) / 1.008 * Math.PI / 2);
                return c * c;
            }
            case "exp":
                return Math.exp(t * -12.0);
            case "laplace": {
                double lmb = -0.5 * Math.copySign(1, 0.5 - t) * Math.log(1 - 2 * Math.abs(0.5 - t) + 1e-6);
                double snr = Math.exp(lmb);
                return Math.sqrt(snr / (1 + snr));
            }
            default:
                throw new IllegalArgumentException(type);
        }
    }

    /** diffusers' {@code rescale_zero_terminal_snr}, in float32 like the torch original. */
    static float[] rescaleZeroTerminalSnr(float[] betas) {
        int T = betas.length;
        float[] alphas = new float[T];
        for (int i = 0; i < T; i++) {
            alphas[i] = 1f - betas[i];
        }
        float[] ac = ScheduleMath.cumprod(alphas);
        float[] s = new float[T];
        for (int i = 0; i < T; i++) {
            s[i] = ScheduleMath.sqrtf(ac[i]);
        }
        float s0 = s[0];
        float sT = s[T - 1];
        float scale = s0 / (s0 - sT);
        for (int i = 0; i < T; i++) {
            s[i] = (s[i] - sT) * scale;
        }
        float[] bar = new float[T];
        for (int i = 0; i < T; i++) {
            bar[i] = s[i] * s[i];
        }
        float[] out = new float[T];
        out[0] = 1f - bar[0];
        for (int i = 1; i < T; i++) {
            out[i] = 1f - bar[i] / bar[i - 1];
        }
        return out;
    }

    float[] trainSigmas() {
        return ScheduleMath.trainSigmas(alphasCumprod);
    }

    /** {@code alphas_cumprod[t]}, negative t counting from the end as Python indexing does. */
    float alphaCumprod(int t) {
        if (t < 0 && t >= -numTrainTimesteps) {
            return alphasCumprod[numTrainTimesteps + t];
        }
        if (t < 0 || t >= numTrainTimesteps) {
            throw new IllegalStateException("timestep " + t + " outside [0, " + numTrainTimesteps + ")");
        }
        return alphasCumprod[t];
    }

    @Override
    public String toString() {
        return "TrainSchedule[T=" + numTrainTimesteps + ", ac0=" + alphasCumprod[0] + ", acT=" + alphasCumprod[numTrainTimesteps - 1]
                + "]";
    }
}
