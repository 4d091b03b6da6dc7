package dev.sdcfg.sampler;

/** The {@code use_karras_sigmas} / {@code use_exponential_sigmas} / {@code use_beta_sigmas} switches. */
enum SigmaConversion {
    NONE, KARRAS, EXPONENTIAL, BETA;

    static SigmaConversion from(SamplerConfig c, boolean exponentialAndBetaSupported) {
        boolean k = c.getBool("use_karras_sigmas", false);
        boolean e = exponentialAndBetaSupported && c.getBool("use_exponential_sigmas", false);
        boolean b = exponentialAndBetaSupported && c.getBool("use_beta_sigmas", false);
        if ((k ? 1 : 0) + (e ? 1 : 0) + (b ? 1 : 0) > 1) {
            throw new IllegalArgumentException("only one of use_karras_sigmas, use_exponential_sigmas, use_beta_sigmas can be true");
        }
        return k ? KARRAS : e ? EXPONENTIAL : b ? BETA : NONE;
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
