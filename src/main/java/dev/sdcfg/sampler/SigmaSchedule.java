package dev.sdcfg.sampler;

/**
 * The sigma part of diffusers' {@code set_timesteps}, shared by the eight samplers with {@code use_karras_sigmas}
 * (LMS, Euler, Heun, KDPM2 and DPM-Solver multistep, DPM-Solver single-step, UniPC, DEIS): the spaced timesteps'
 * sigmas interpolated in the training sigmas, or, when a conversion is on, the Karras / exponential / beta sigmas
 * and the fractional timesteps they map back to ({@code _sigma_to_t}), rounded where the class rounds Karras
 * timesteps.
 *
 * <p>diffusers writes this block out in each scheduler, with differences that are kept here as arguments: where the
 * conversion takes its default range ({@link Range}), whether {@code config.sigma_min / sigma_max} are consulted
 * (the constructor's arguments; LMS's Karras conversion does not), and whether Karras timesteps are rounded.
 */
final class SigmaSchedule {

    /** Where a conversion's default {@code [sigma_min, sigma_max]} comes from. */
    enum Range {
        /** The sigmas of the spaced timesteps (Euler, Heun, LMS, KDPM2: {@code _convert_to_*(in_sigmas=sigmas)}). */
        SPACED,
        /** All training sigmas (the multistep solvers: {@code _convert_to_*(in_sigmas=np.flip(sigmas))}). */
        TRAINING
    }

    /** Timesteps (float64, not yet cast) and the sigmas at them (float64, without the final sigma). */
    record Result(double[] timesteps, double[] sigmas) {
    }

    private final SigmaConversion conversion;
    private final Double sigmaMin;
    private final Double sigmaMax;

    /**
     * @param sigmaMin the config's {@code sigma_min} where the class consults it (null: unset, or not consulted)
     * @param sigmaMax likewise {@code sigma_max}
     */
    SigmaSchedule(SigmaConversion conversion, Double sigmaMin, Double sigmaMax) {
        this.conversion = conversion;
        this.sigmaMin = sigmaMin;
        this.sigmaMax = sigmaMax;
    }

    SigmaConversion conversion() {
        return conversion;
    }

    boolean converts() {
        return conversion != SigmaConversion.NONE;
    }

    /** The spaced timesteps {@code ts} and their sigmas, converted as configured. */
    Result apply(TrainSchedule train, double[] ts, int n, Range range, boolean roundKarras) {
        float[] trainSigmas = train.trainSigmas();
        if (!converts()) {
            return new Result(ts, ScheduleMath.interp(ts, trainSigmas));
        }
        double[] in = range == Range.TRAINING ? ScheduleMath.reverse(ScheduleMath.toDouble(trainSigmas))
                : ScheduleMath.interp(ts, trainSigmas);
        return convert(train, in, n, roundKarras);
    }

    /**
     * {@code sigmas}, the sigmas of the spaced timesteps {@code ts} as the class computes them (Euler's log-linear
     * interpolation), converted as configured; the conversion's default range is theirs.
     */
    Result apply(TrainSchedule train, double[] ts, double[] sigmas, int n, boolean roundKarras) {
        return converts() ? convert(train, sigmas, n, roundKarras) : new Result(ts, sigmas);
    }

    private Result convert(TrainSchedule train, double[] in, int n, boolean roundKarras) {
        double[] sig = conversion.convert(in, n, sigmaMin, sigmaMax);
        double[] ts = SigmaConversion.toTimesteps(sig, ScheduleMath.logf(train.trainSigmas()));
        if (roundKarras && conversion == SigmaConversion.KARRAS) {
            AbstractSampler.roundInPlace(ts);
        }
        return new Result(ts, sig);
    }
}
