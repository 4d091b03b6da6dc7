package dev.sdcfg.sampler;

/**
 * The Beta(a, b) distribution's CDF (regularized incomplete beta function) and its inverse, as needed by
 * diffusers' {@code use_beta_sigmas} ({@code scipy.stats.beta.ppf}). Accurate to about 1e-14.
 */
final class BetaDistribution {

    private BetaDistribution() {
    }

    /** Regularized incomplete beta function I_x(a, b). */
    static double cdf(double x, double a, double b) {
        if (x <= 0) {
            return 0;
        }
        if (x >= 1) {
            return 1;
        }
        double lnFront = a * Math.log(x) + b * Math.log1p(-x) - logBeta(a, b);
        // use the continued fraction where it converges fast, the symmetry relation elsewhere
        if (x < (a + 1) / (a + b + 2)) {
            return Math.exp(lnFront) * continuedFraction(x, a, b) / a;
        }
        double lnFrontSym = b * Math.log1p(-x) + a * Math.log(x) - logBeta(a, b);
        return 1 - Math.exp(lnFrontSym) * continuedFraction(1 - x, b, a) / b;
    }

    /** The x with I_x(a, b) = p (scipy's {@code beta.ppf(p, a, b)}). */
    static double inverseCdf(double p, double a, double b) {
        if (Double.isNaN(p) || p < 0 || p > 1) {
            return Double.NaN;
        }
        if (p == 0) {
            return 0;
        }
        if (p == 1) {
            return 1;
        }
        double lo = 0;
        double hi = 1;
        double x = 0.5;
        for (int it = 0; it < 200; it++) {
            double f = cdf(x, a, b) - p;
            if (f == 0) {
                return x;
            }
            if (f < 0) {
                lo = x;
            } else {
                hi = x;
            }
            // Newton step with the density, falling back to bisection when it leaves the bracket
            double logPdf = (a - 1) * Math.log(x) + (b - 1) * Math.log1p(-x) - logBeta(a, b);
            double next = x - f / Math.exp(logPdf);
            if (!(next > lo && next < hi)) {
                next = 0.5 * (lo + hi);
            }
            if (Math.abs(next - x) <= 1e-16 * Math.max(Math.abs(x), 1e-300) || hi - lo <= 1e-17) {
                return next;
            }
            x = next;
        }
        return x;
    }

    private static double continuedFraction(double x, double a, double b) {
        final double tiny = 1e-300;
        double qab = a + b;
        double qap = a + 1;
        double qam = a - 1;
        double c = 1;
        double d = 1 - qab * x / qap;
        if (Math.abs(d) < tiny) {
            d = tiny;
        }
        d = 1 / d;
        double h = d;
        for (int m = 1; m <= 10000; m++) {
            int m2 = 2 * m;
            double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
            d = 1 + aa * d;
            if (Math.abs(d) < tiny) {
                d = tiny;
            }
            c = 1 + aa / c;
            if (Math.abs(c) < tiny) {
                c = tiny;
            }
            d = 1 / d;
            h *= d * c;
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
            d = 1 + aa * d;
            if (Math.abs(d) < tiny) {
                d = tiny;
            }
            c = 1 + aa / c;
            if (Math.abs(c) < tiny) {
                c = tiny;
            }
            d = 1 / d;
            double del = d * c;
            h *= del;
            if (Math.abs(del - 1) < 1e-16) {
                break;
            }
        }
        return h;
    }

    static double logBeta(double a, double b) {
        return logGamma(a) + logGamma(b) - logGamma(a + b);
    }

    /** Lanczos approximation (g = 7, n = 9), about 1e-15 relative. */
    static double logGamma(double x) {
        if (x < 0.5) {
            return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
        }
        final double[] c = {0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
            1.5056327351493116e-7};
        x -= 1;
        double s = c[0];
        for (int i = 1; i < 9; i++) {
            s += c[i] / (x + i);
        }
        double t = x + 7.5;
        return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(s);
    }
}
