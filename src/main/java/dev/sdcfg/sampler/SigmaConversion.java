package dev.sdcfg.sampler;

import java.util.ArrayList;
import java.util.List;

/** The {@code use_karras_sigmas} / {@code use_exponential_sigmas} / {@code use_beta_sigmas} switches. */
enum SigmaConversion {
    NONE, KARRAS, EXPONENTIAL, BETA;

    /** Reads the three switches (in this order); at most one may be on. */
    static SigmaConversion from(SamplerConfig c) {
        SigmaConversion chosen = NONE;
        List<SamplerOption<?>> on = new ArrayList<>();
        for (SigmaConversion s : List.of(KARRAS, EXPONENTIAL, BETA)) {
            if (c.get(s.option())) {
                chosen = s;
                on.add(s.option());
            }
        }
        if (on.size() > 1) {
            throw c.conflict("only one of use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas can be true", on);
        }
        return chosen;
    }

    /** The switch that selects this conversion (null for {@link #NONE}). */
    SamplerOption<Boolean> option() {
        return switch (this) {
            case KARRAS -> SharedOptions.USE_KARRAS_SIGMAS;
            case EXPONENTIAL -> SharedOptions.USE_EXPONENTIAL_SIGMAS;
            case BETA -> SharedOptions.USE_BETA_SIGMAS;
            case NONE -> null;
        };
    }

    /**
     * Converts a descending sigma range into this schedule's {@code n} sigmas (float64).
     *
     * @param inSigmas descending sigmas; the default range is {@code [inSigmas[last], inSigmas[0]]}
     * @param cfgMin the config's {@code sigma_min} when the class consults it (null otherwise / when unset)
     * @param cfgMax the config's {@code sigma_max} likewise
     */
    double[] convert(double[] inSigmas, int n, Double cfgMin, Double cfgMax) {
        double min = cfgMin != null ? cfgMin : inSigmas[inSigmas.length - 1];
        double max = cfgMax != null ? cfgMax : inSigmas[0];
        switch (this) {
            case KARRAS:
                return ScheduleMath.karras(min, max, n);
            case EXPONENTIAL:
                return ScheduleMath.exponential(min, max, n);
            case BETA:
                return ScheduleMath.betaSigmas(min, max, n);
            default:
                return inSigmas;
        }
    }

    static double[] toTimesteps(double[] sigmas, float[] logSigmas) {
        double[] t = new double[sigmas.length];
        for (int i = 0; i < t.length; i++) {
            t[i] = ScheduleMath.sigmaToT(sigmas[i], logSigmas);
        }
        return t;
    }
}
