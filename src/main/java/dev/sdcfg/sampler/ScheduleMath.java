package dev.sdcfg.sampler;

/**
 * Bit-faithful Java versions of the numpy / torch helpers that diffusers' schedulers are built from.
 *
 * <p>diffusers builds {@code betas} and {@code alphas_cumprod} as float32 torch tensors, derives sigmas from them with
 * float32 tensor arithmetic, then moves to numpy float64 for interpolation and Karras-style schedules, and finally
 * rounds sigmas back to float32. Scalar coefficients inside {@code step()} are 0-dim float32 tensors. The helpers
 * here reproduce each of those steps: {@code float} arithmetic where torch works in float32 (Java float ops are
 * IEEE-754 correctly rounded, as torch's CPU kernels are), {@code double} where numpy works in float64.
 */
final class ScheduleMath {

    private ScheduleMath() {
    }

    // ---------------------------------------------------------------- torch float32 helpers

    /**
     * {@code torch.linspace(start, end, steps, dtype=torch.float32)} on the CPU. ATen computes
     * {@code start + step*i} for the first half and {@code end - step*(steps-1-i)} for the second half, in float,
     * and the compiler contracts each into one fused multiply-add (checked against the golden sigmas: this and
     * only this reproduces them bit for bit).
     */
    static float[] torchLinspace(double start, double end, int steps) {
        float s = (float) start;
        float e = (float) end;
        float[] out = new float[steps];
        if (steps == 1) {
            out[0] = s;
            return out;
        }
        float step = (e - s) / (float) (steps - 1);
        int half = steps / 2;
        for (int i = 0; i < steps; i++) {
            out[i] = i < half ? Math.fma(step, (float) i, s) : Math.fma(-step, (float) (steps - i - 1), e);
        }
        return out;
    }

    /** {@code torch.cumprod(x, 0)} for float32 on the CPU: the running product is kept in double. */
    static float[] cumprod(float[] x) {
        float[] out = new float[x.length];
        double acc = 1.0;
        for (int i = 0; i < x.length; i++) {
            acc *= x[i];
            out[i] = (float) acc;
        }
        return out;
    }

    static float sqrtf(float x) {
        return (float) Math.sqrt(x);
    }

    static float logf(float x) {
        return (float) Math.log(x);
    }

    static float expf(float x) {
        return (float) Math.exp(x);
    }

    static float expm1f(float x) {
        return (float) Math.expm1(x);
    }

    /**
     * numpy's float32 {@code np.log} as x86-64 builds compute it (the AVX2/FMA3 and AVX-512F loops share this
     * algorithm): x = m·2^e with m in (√½, √2], log(1 + y) for y = m − 1 as a ratio of two degree-5 polynomials
     * evaluated with fused multiply-adds, plus e·ln 2. It is not correctly rounded (about one value in ten is one
     * ulp off {@link #logf(float)}, up to 3.8 ulp), which matters where diffusers takes {@code np.log} of float32
     * tensors and then cancels the results (DEIS' coefficients).
     */
    static float numpyLogf(float x) {
        if (Float.isNaN(x)) {
            return x;
        }
        if (x < 0f) {
            return Float.NaN;
        }
        if (x == 0f) {
            return Float.NEGATIVE_INFINITY;
        }
        if (x == Float.POSITIVE_INFINITY) {
            return x;
        }
        float e;
        float m;
        if (x < Float.MIN_NORMAL) { // subnormals are scaled by 2^100 first
            int bits = Float.floatToRawIntBits(x * 0x1p100f);
            e = (float) ((bits >>> 23) - 126) - 100f;
            m = Float.intBitsToFloat((bits & 0x7fffff) | (126 << 23));
        } else {
            int bits = Float.floatToRawIntBits(x);
            e = (float) ((bits >>> 23) - 126);
            m = Float.intBitsToFloat((bits & 0x7fffff) | (126 << 23));
        }
        if (m <= NPY_SQRT1_2F) {
            m = m + m;
            e = e - 1f;
        }
        float y = m - 1f;
        float num = Math.fma(LOG_P[5], y, LOG_P[4]);
        num = Math.fma(num, y, LOG_P[3]);
        num = Math.fma(num, y, LOG_P[2]);
        num = Math.fma(num, y, LOG_P[1]);
        num = Math.fma(num, y, LOG_P[0]);
        float den = Math.fma(LOG_Q[5], y, LOG_Q[4]);
        den = Math.fma(den, y, LOG_Q[3]);
        den = Math.fma(den, y, LOG_Q[2]);
        den = Math.fma(den, y, LOG_Q[1]);
        den = Math.fma(den, y, LOG_Q[0]);
        return Math.fma(e, NPY_LOGE2F, num / den);
    }

    /** numpy's {@code NPY_SQRT1_2f}, {@code NPY_LOGE2f} and {@code NPY_COEFF_{P,Q}k_LOGf} (npy_simd_data.h). */
    private static final float NPY_SQRT1_2F = 0.707106781186547524400844362104849039f;
    private static final float NPY_LOGE2F = 0.693147180559945309417232121458176568f;
    private static final float[] LOG_P = {0.000000000000000000000e+00f, 9.999999999999998702752e-01f,
        2.112677543073053063722e+00f, 1.480000633576506585156e+00f, 3.808837741388407920751e-01f,
        2.589979117907922693523e-02f};
    private static final float[] LOG_Q = {1.000000000000000000000e+00f, 2.612677543073109236779e+00f,
        2.453006071784736363091e+00f, 9.864942958519418960339e-01f, 1.546476374983906719538e-01f,
        5.875095403124574342950e-03f};

    /** {@code ((1 - ac) / ac) ** 0.5} in float32. */
    static float sigmaFromAlphaCumprod(float ac) {
        return sqrtf((1f - ac) / ac);
    }

    /** Float32 train sigmas {@code ((1 - alphas_cumprod) / alphas_cumprod) ** 0.5}, ascending in t. */
    static float[] trainSigmas(float[] alphasCumprod) {
        float[] s = new float[alphasCumprod.length];
        for (int i = 0; i < s.length; i++) {
            s[i] = sigmaFromAlphaCumprod(alphasCumprod[i]);
        }
        return s;
    }

    /** {@code np.log(float32 array)}: stays float32. */
    static float[] logf(float[] x) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = logf(x[i]);
        }
        return out;
    }

    // ---------------------------------------------------------------- numpy float64 helpers

    /** {@code np.linspace(start, stop, num)} (endpoint=True) in float64. */
    static double[] npLinspace(double start, double stop, int num) {
        double[] y = new double[num];
        int div = num - 1;
        double delta = stop - start;
        if (div > 0) {
            double step = delta / div;
            if (step == 0) {
                for (int i = 0; i < num; i++) {
                    y[i] = ((double) i / div) * delta + start;
                }
            } else {
                for (int i = 0; i < num; i++) {
                    y[i] = i * step + start;
                }
            }
            y[num - 1] = stop;
        } else {
            for (int i = 0; i < num; i++) {
                y[i] = i * delta + start;
            }
        }
        return y;
    }

    /**
     * {@code np.arange(start, stop, step)} for float64: length {@code ceil((stop - start) / step)}, values
     * {@code start + i * ((start + step) - start)} exactly as numpy's fill function computes them.
     */
    static double[] npArange(double start, double stop, double step) {
        double lenD = Math.ceil((stop - start) / step);
        int len = lenD > 0 ? (int) lenD : 0;
        double[] out = new double[len];
        if (len == 0) {
            return out;
        }
        out[0] = start;
        if (len > 1) {
            double next = start + step;
            double delta = next - start;
            out[1] = next;
            for (int i = 2; i < len; i++) {
                out[i] = start + i * delta;
            }
        }
        return out;
    }

    /** {@code np.interp(x, np.arange(len(fp)), fp)} with float32 {@code fp}, computed in float64 like numpy. */
    static double[] interp(double[] x, float[] fp) {
        int n = fp.length;
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double xv = x[i];
            if (Double.isNaN(xv)) {
                out[i] = xv;
            } else if (xv > n - 1) {
                out[i] = fp[n - 1];
            } else if (xv < 0) {
                out[i] = fp[0];
            } else {
                int j = (int) Math.floor(xv);
                if (j >= n - 1) {
                    out[i] = fp[n - 1];
                } else if (xv == j) {
                    out[i] = fp[j];
                } else {
                    double slope = ((double) fp[j + 1] - (double) fp[j]) / 1.0;
                    double r = slope * (xv - j) + fp[j];
                    if (Double.isNaN(r)) {
                        r = slope * (xv - (j + 1)) + fp[j + 1];
                        if (Double.isNaN(r) && fp[j] == fp[j + 1]) {
                            r = fp[j];
                        }
                    }
                    out[i] = r;
                }
            }
        }
        return out;
    }

    /**
     * diffusers' {@code _sigma_to_t}: the (fractional) train timestep whose float32 log-sigma brackets
     * {@code log(sigma)}, linearly interpolated in log space.
     */
    static double sigmaToT(double sigma, float[] logSigmas) {
        double logSigma = Math.log(Math.max(sigma, 1e-10));
        int low = bracketLow(logSigma, logSigmas);
        int high = low + 1;
        float lo = logSigmas[low];
        float hi = logSigmas[high];
        double w = (lo - logSigma) / (double) (lo - hi); // (low - high) is float32 - float32 in numpy
        if (w < 0) {
            w = 0;
        } else if (w > 1) {
            w = 1;
        }
        return (1 - w) * low + w * high;
    }

    /**
     * {@code _sigma_to_t}'s lower bracket: the index of the last entry with {@code log_sigma - log_sigmas[i] >= 0}
     * (argmax of the cumulative count), 0 if none (NaN included), at most {@code n - 2}.
     */
    private static int bracketLow(double logSigma, float[] logSigmas) {
        int low = 0;
        for (int i = 0; i < logSigmas.length; i++) {
            if (logSigma - logSigmas[i] >= 0) {
                low = i;
            }
        }
        return Math.min(low, logSigmas.length - 2);
    }

    /**
     * diffusers' {@code _sigma_to_t} called with torch float32 tensors (KDPM2's interpolated sigmas and its torch
     * {@code log_sigmas}): the same bracketing as {@link #sigmaToT}, but every value ({@code log(max(sigma, 1e-10))},
     * the weight and the blend of the two indices) is computed in float32. NaN stays NaN.
     */
    static float sigmaToTf32(float sigma, float[] logSigmas) {
        float logSigma = logf(Float.isNaN(sigma) ? sigma : Math.max(sigma, 1e-10f));
        int low = bracketLow(logSigma, logSigmas); // a float difference has the sign of the exact one
        int high = low + 1;
        float lo = logSigmas[low];
        float hi = logSigmas[high];
        float w = (lo - logSigma) / (lo - hi);
        if (w < 0) {
            w = 0;
        } else if (w > 1) {
            w = 1;
        }
        return (1f - w) * (float) low + w * (float) high;
    }

    /** Karras et al. (2022) rho=7 schedule from {@code sigmaMax} down to {@code sigmaMin}, float64. */
    static double[] karras(double sigmaMin, double sigmaMax, int n) {
        double rho = 7.0;
        double[] ramp = npLinspace(0, 1, n);
        double minInvRho = Math.pow(sigmaMin, 1 / rho);
        double maxInvRho = Math.pow(sigmaMax, 1 / rho);
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = Math.pow(maxInvRho + ramp[i] * (minInvRho - maxInvRho), rho);
        }
        return out;
    }

    /** {@code np.exp(np.linspace(log(sigma_max), log(sigma_min), n))}. */
    static double[] exponential(double sigmaMin, double sigmaMax, int n) {
        double[] l = npLinspace(Math.log(sigmaMax), Math.log(sigmaMin), n);
        for (int i = 0; i < n; i++) {
            l[i] = Math.exp(l[i]);
        }
        return l;
    }

    /**
     * diffusers' {@code _convert_to_beta} (alpha = beta = 0.6): {@code sigma_min + ppf(1 - ramp) * (sigma_max -
     * sigma_min)} with the inverse CDF of the Beta(0.6, 0.6) distribution.
     */
    static double[] betaSigmas(double sigmaMin, double sigmaMax, int n) {
        double[] ramp = npLinspace(0, 1, n);
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            double ppf = BetaDistribution.inverseCdf(1 - ramp[i], 0.6, 0.6);
            out[i] = sigmaMin + ppf * (sigmaMax - sigmaMin);
        }
        return out;
    }

    /** numpy/torch round half to even. */
    static double round(double x) {
        return Math.rint(x);
    }

    static double[] reverse(double[] a) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = a[a.length - 1 - i];
        }
        return r;
    }

    static float[] reverse(float[] a) {
        float[] r = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = a[a.length - 1 - i];
        }
        return r;
    }

    static double max(float[] a) {
        float m = Float.NEGATIVE_INFINITY;
        for (float v : a) {
            if (v > m || Float.isNaN(v)) {
                m = v;
            }
        }
        return m;
    }

    /** Converts float64 values to float32 and back (numpy {@code .astype(np.float32)}). */
    static float[] toFloat(double[] a) {
        float[] r = new float[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = (float) a[i];
        }
        return r;
    }

    static double[] toDouble(float[] a) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            r[i] = a[i];
        }
        return r;
    }

    /**
     * Solves {@code A x = b} in float32 by Gaussian elimination with partial pivoting (what LAPACK's sgesv does
     * for the tiny 2×2 / 3×3 systems of UniPC).
     */
    static float[] solveF32(float[][] a, float[] b) {
        int n = b.length;
        float[][] m = new float[n][];
        for (int i = 0; i < n; i++) {
            m[i] = a[i].clone();
        }
        float[] x = b.clone();
        for (int k = 0; k < n; k++) {
            int p = k;
            for (int i = k + 1; i < n; i++) {
                if (Math.abs(m[i][k]) > Math.abs(m[p][k])) {
                    p = i;
                }
            }
            if (p != k) {
                float[] t = m[p];
                m[p] = m[k];
                m[k] = t;
                float tb = x[p];
                x[p] = x[k];
                x[k] = tb;
            }
            if (m[k][k] == 0f) {
                throw new ArithmeticException("singular matrix in UniPC coefficient solve");
            }
            for (int i = k + 1; i < n; i++) {
                float l = m[i][k] / m[k][k];
                for (int j = k + 1; j < n; j++) {
                    m[i][j] = m[i][j] - l * m[k][j];
                }
                x[i] = x[i] - l * x[k];
            }
        }
        for (int i = n - 1; i >= 0; i--) {
            float s = x[i];
            for (int j = i + 1; j < n; j++) {
                s = s - m[i][j] * x[j];
            }
            x[i] = s / m[i][i];
        }
        return x;
    }
}
