package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.runtime.HostScalars;

import java.util.ArrayList;
import java.util.List;

/**
 * Shared plumbing: step-order checks, NDScope handling, history ownership, linear combinations, spacings.
 *
 * <p>What the samplers still repeat, on purpose, so that each reads top to bottom like its diffusers class: their
 * fields, the constructor's reads of their options (in the order that decides which of several bad options is
 * reported), and the last lines of {@code computeTimesteps}, where the final sigma differs by class (zero, the
 * training schedule's sigma_min, or the last converted sigma). The logic they share lives here, in
 * {@link SigmaSchedule}, {@link TrainSchedule}, {@link SharedOptions} and {@link X0Clamp}.
 */
abstract class AbstractSampler implements Sampler {

    protected final String name;
    protected final String diffusersClass;
    protected final SamplerConfig cfg;
    protected final TrainSchedule train;

    protected double[] timesteps = new double[0];
    protected float[] sigmas;
    protected int numInferenceSteps;
    private int nextIndex = -1;

    AbstractSampler(String name, String diffusersClass, SamplerConfig cfg, TrainSchedule train) {
        this.name = name;
        this.diffusersClass = diffusersClass;
        this.cfg = cfg;
        this.train = train;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String diffusersClass() {
        return diffusersClass;
    }

    @Override
    public int order() {
        return 1;
    }

    @Override
    public int numInferenceSteps() {
        return numInferenceSteps;
    }

    @Override
    public double[] timesteps() {
        return timesteps.clone();
    }

    @Override
    public double[] sigmas() {
        return sigmas == null ? null : ScheduleMath.toDouble(sigmas);
    }

    @Override
    public boolean isStochastic() {
        return false;
    }

    /** 1 (the alpha/sigma samplers start from unit noise) unless overridden. */
    @Override
    public double initNoiseSigma() {
        return 1.0;
    }

    @Override
    public final void setTimesteps(int steps) {
        if (steps < 1) {
            throw new IllegalArgumentException("steps must be at least 1, got " + steps);
        }
        releaseHistory();
        nextIndex = -1;
        computeTimesteps(steps);
    }

    protected abstract void computeTimesteps(int steps);

    /** DDIM / DDPM: integer timesteps ({@link #intSpacing}), no sigmas, at most num_train_timesteps steps. */
    protected final void setIntTimesteps(int n, String spacing, int stepsOffset) {
        if (n > train.numTrainTimesteps) {
            throw new IllegalArgumentException("steps (" + n + ") cannot exceed num_train_timesteps (" + train.numTrainTimesteps + ")");
        }
        timesteps = intSpacing(spacing, train.numTrainTimesteps, n, stepsOffset);
        sigmas = null;
        numInferenceSteps = n;
    }

    @Override
    public final NDArray scaleModelInput(NDArray sample, int stepIndex) {
        checkIndex(stepIndex);
        return scale(sample, stepIndex);
    }

    /** Identity unless overridden. */
    protected NDArray scale(NDArray sample, int stepIndex) {
        return sample;
    }

    @Override
    public final NDArray step(NDArray modelOutput, int stepIndex, NDArray sample, NoiseSource noise) {
        checkIndex(stepIndex);
        if (nextIndex >= 0 && stepIndex != nextIndex) {
            throw new IllegalStateException(name + ": step " + stepIndex + " called out of order (expected " + nextIndex
                    + "); create a new sampler or call setTimesteps to restart");
        }
        if (!modelOutput.getShape().equals(sample.getShape())) {
            throw new IllegalArgumentException(name + ": model output shape " + modelOutput.getShape()
                    + " differs from sample shape " + sample.getShape());
        }
        NDArray out;
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            out = doStep(modelOutput, stepIndex, sample, noise == null ? NoiseSource.NONE : noise);
            if (out == sample || out == modelOutput) {
                out = out.duplicate();
            }
            NDScope.unregister(out);
        }
        NDScope.register(out);
        nextIndex = stepIndex + 1;
        return out;
    }

    protected abstract NDArray doStep(NDArray modelOutput, int i, NDArray sample, NoiseSource noise);

    /**
     * x0 in the alpha/sigma form x = alpha·x0 + sigma·eps (DDIM, DDPM, PNDM, DPM-Solver, DEIS, UniPC): alpha and
     * sigma of call {@code stepIndex} come from its sigma when the sampler has sigmas ({@code _sigma_to_alpha_sigma_t})
     * and from alphas_cumprod at its integer timestep otherwise (PNDM's warm-up calls get the estimate at the
     * timestep the model saw). {@link SigmaSampler} overrides this for the sigma form.
     */
    @Override
    public NDArray denoised(NDArray modelOutput, int stepIndex, NDArray sample) {
        checkIndex(stepIndex);
        float alpha;
        float sigma;
        if (sigmas != null) {
            float[] as = alphaSigma(sigmas[stepIndex]);
            alpha = as[0];
            sigma = as[1];
        } else {
            float[] ac = train.alphasCumprod;
            float a = ac[Math.max(0, Math.min(ac.length - 1, (int) timesteps[stepIndex]))];
            alpha = ScheduleMath.sqrtf(a);
            sigma = ScheduleMath.sqrtf(1f - a);
        }
        return Prediction.AlphaSigma.of(modelPredictionType(), alpha, sigma).x0(sample, modelOutput);
    }

    /** diffusers' {@code prediction_type} of this sampler (epsilon, sample, v_prediction). */
    protected abstract String modelPredictionType();

    @Override
    public final NDArray addNoise(NDArray original, NDArray noise, int stepIndex) {
        checkIndex(stepIndex);
        if (!original.getShape().equals(noise.getShape())) {
            throw new IllegalArgumentException(name + ": noise shape " + noise.getShape() + " differs from sample shape "
                    + original.getShape());
        }
        return noised(original, noise, stepIndex);
    }

    /**
     * DDPMScheduler.add_noise (copied into DDIM and PNDM): {@code ᾱ[t] ** 0.5 · x + (1 − ᾱ[t]) ** 0.5 · n} with
     * the float32 training schedule at the integer timestep of call {@code i}.
     */
    protected NDArray noised(NDArray original, NDArray noise, int i) {
        float ac = train.alphasCumprod[(int) timesteps[i]];
        return lin(ScheduleMath.sqrtf(ac), original, ScheduleMath.sqrtf(1f - ac), noise);
    }

    /**
     * The multistep solvers' add_noise (DPM-Solver, its single-step variant, DEIS, UniPC):
     * {@code alpha_t · x + sigma_t · n} with (alpha_t, sigma_t) of {@code sigmas[i]}.
     */
    protected final NDArray noisedAtAlphaSigma(NDArray original, NDArray noise, int i) {
        float[] as = alphaSigma(sigmas[i]);
        return lin(as[0], original, as[1], noise);
    }

    protected final void checkIndex(int stepIndex) {
        if (numInferenceSteps == 0) {
            throw new IllegalStateException(name + ": call setTimesteps before sampling");
        }
        if (stepIndex < 0 || stepIndex >= timesteps.length) {
            throw new IllegalArgumentException(name + ": step index " + stepIndex + " outside [0, " + timesteps.length + ")");
        }
    }

    @Override
    public void close() {
        releaseHistory();
    }

    /** Closes the arrays held between steps. */
    protected abstract void releaseHistory();

    // ------------------------------------------------------------------ array helpers

    /** Takes ownership of an array created inside a step (removes it from the step's scope). */
    protected static NDArray keep(NDArray a) {
        NDScope.unregister(a);
        return a;
    }

    /** An owned copy of an array the caller owns. */
    protected static NDArray keepCopy(NDArray a) {
        return keep(a.duplicate());
    }

    protected static void free(NDArray a) {
        if (a != null && !a.isReleased()) {
            a.close();
        }
    }

    protected static void free(List<NDArray> list) {
        for (NDArray a : list) {
            free(a);
        }
        list.clear();
    }

    /** Closes every array of a history and empties its slots. */
    protected static void free(NDArray[] history) {
        if (history != null) {
            for (int k = 0; k < history.length; k++) {
                free(history[k]);
                history[k] = null;
            }
        }
    }

    /** Closes the oldest entry of a fixed-size history (index 0), shifts the others down and appends {@code a}. */
    protected static void push(NDArray[] history, NDArray a) {
        free(history[0]);
        for (int k = 0; k < history.length - 1; k++) {
            history[k] = history[k + 1];
        }
        history[history.length - 1] = a;
    }

    /** Standard normal noise from {@code noise} in the model output's shape and dtype, times {@code std}, added to {@code x}. */
    protected static NDArray addNoise(NDArray x, float std, NoiseSource noise, NDArray model, NDArray sample) {
        NDArray z = noise.randn(model.getShape(), model.getDataType(), sample.getManager());
        return x.add(HostScalars.mul(z, std));
    }

    /**
     * Σ c_k · a_k as a new array (terms with c_k = 0 are skipped, c_k = 1 costs no multiplication). Results follow
     * torch promotion: a 0-dim coefficient never changes the dtype of the array it scales.
     */
    protected static NDArray lin(double[] coefs, NDArray... arrays) {
        NDArray acc = null;
        for (int k = 0; k < arrays.length; k++) {
            double c = coefs[k];
            if (c == 0.0 || arrays[k] == null) {
                continue;
            }
            NDArray term = c == 1.0 ? arrays[k] : HostScalars.mul(arrays[k], c);
            acc = acc == null ? term : acc.add(term);
        }
        if (acc == null) {
            return arrays[0].zerosLike();
        }
        for (NDArray a : arrays) {
            if (acc == a) {
                return a.duplicate();
            }
        }
        return acc;
    }

    protected static NDArray lin(double c0, NDArray a0, double c1, NDArray a1) {
        return lin(new double[] {c0, c1}, a0, a1);
    }

    /** diffusers' {@code sample.to(torch.float32)} before the step, promoted like torch would with the model output. */
    protected static NDArray upcast(NDArray sample, NDArray modelOutput) {
        NDArray x = sample.getDataType() == DataType.FLOAT32 ? sample : sample.toType(DataType.FLOAT32, false);
        if (modelOutput.getDataType() == DataType.FLOAT64) {
            x = x.toType(DataType.FLOAT64, false);
        }
        return x;
    }

    /** {@code prev_sample.to(model_output.dtype)}. */
    protected static NDArray toDtypeOf(NDArray x, NDArray like) {
        return x.getDataType() == like.getDataType() ? x : x.toType(like.getDataType(), false);
    }

    /**
     * diffusers' dynamic thresholding ({@code _threshold_sample}): per sample, s = clamp(quantile(|x|, ratio), 1,
     * max); x ← clamp(x, −s, s) / s. Linear-interpolated quantile as torch.quantile computes it.
     */
    protected static NDArray threshold(NDArray x0, double ratio, double maxValue) {
        DataType dtype = x0.getDataType();
        NDArray x = dtype == DataType.FLOAT32 || dtype == DataType.FLOAT64 ? x0 : x0.toType(DataType.FLOAT32, false);
        Shape shape = x.getShape();
        long b = shape.get(0);
        NDArray flat = x.reshape(b, -1);
        long n = flat.getShape().get(1);
        NDArray sorted = flat.abs().sort(1);
        double pos = ratio * (n - 1);
        long lo = (long) Math.floor(pos);
        long hi = Math.min(lo + 1, n - 1);
        double frac = pos - lo;
        NDArray vlo = sorted.get(new NDIndex(":, {}", lo));
        NDArray s = vlo;
        if (frac > 0 && hi != lo) {
            NDArray vhi = sorted.get(new NDIndex(":, {}", hi));
            s = vlo.add(HostScalars.mul(vhi.sub(vlo), frac));
        }
        s = s.clip(1, maxValue).reshape(b, 1);
        NDArray out = flat.minimum(s).maximum(s.neg()).div(s).reshape(shape);
        return out.getDataType() == dtype ? out : out.toType(dtype, false);
    }

    // ------------------------------------------------------------------ timestep spacings

    /**
     * Timesteps of the sigma-based samplers (LMS, Euler, Euler ancestral, Heun): float32 values, descending.
     */
    static double[] floatSpacing(String spacing, int T, int n, int stepsOffset) {
        double[] ts = switch (spacing) {
            case "linspace" -> ScheduleMath.reverse(ScheduleMath.npLinspace(0, T - 1, n));
            case "leading" -> leading(T / n, n - 1, n, stepsOffset);
            case "trailing" -> trailing(T, T, n);
            default -> throw new IllegalArgumentException("timestep_spacing " + spacing);
        };
        return float32(ts);
    }

    /** Integer timesteps of DDIM / DDPM (and, reversed, PNDM): descending. */
    static double[] intSpacing(String spacing, int T, int n, int stepsOffset) {
        return switch (spacing) {
            case "linspace" -> roundedReverse(ScheduleMath.npLinspace(0, T - 1, n), n);
            case "leading" -> leading(T / n, n - 1, n, stepsOffset);
            case "trailing" -> trailing(T, T, n);
            default -> throw new IllegalArgumentException("timestep_spacing " + spacing);
        };
    }

    /**
     * Integer timesteps of the multistep solvers (DPM-Solver, UniPC): {@code n + 1} points with the last dropped
     * for linspace/leading.
     */
    static double[] multistepSpacing(String spacing, int T, int lastTimestep, int n, int stepsOffset) {
        return switch (spacing) {
            case "linspace" -> roundedReverse(ScheduleMath.npLinspace(0, lastTimestep - 1, n + 1), n);
            case "leading" -> leading(lastTimestep / (n + 1), n, n, stepsOffset);
            case "trailing" -> trailing(lastTimestep, T, n);
            default -> throw new IllegalArgumentException("timestep_spacing " + spacing);
        };
    }

    /** {@code round(l[::-1][:n])}. */
    private static double[] roundedReverse(double[] l, int n) {
        double[] ts = new double[n];
        for (int i = 0; i < n; i++) {
            ts[i] = ScheduleMath.round(l[l.length - 1 - i]);
        }
        return ts;
    }

    /** "leading": {@code (top - i) * ratio + steps_offset} for i in [0, n), integer products. */
    private static double[] leading(long ratio, int top, int n, int stepsOffset) {
        double[] ts = new double[n];
        for (int i = 0; i < n; i++) {
            ts[i] = (double) ((long) (top - i) * ratio) + stepsOffset;
        }
        return ts;
    }

    /** "trailing": {@code round(np.arange(start, 0, -T / n)) - 1}. */
    private static double[] trailing(int start, int T, int n) {
        double[] a = ScheduleMath.npArange(start, 0, -((double) T / n));
        double[] ts = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            ts[i] = (long) ScheduleMath.round(a[i]) - 1;
        }
        return ts;
    }

    /** Each value rounded to float32 (a new array). */
    static double[] float32(double[] a) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = (float) a[i];
        }
        return out;
    }

    /** Each value truncated like {@code .to(torch.int64)} (a new array). */
    static double[] int64(double[] a) {
        double[] out = new double[a.length];
        for (int i = 0; i < a.length; i++) {
            out[i] = (long) a[i];
        }
        return out;
    }

    /** Rounds each value in place (numpy's round half to even). */
    static void roundInPlace(double[] a) {
        for (int i = 0; i < a.length; i++) {
            a[i] = ScheduleMath.round(a[i]);
        }
    }

    /** The float32 sigmas {@code sig} followed by {@code last}. */
    static float[] withFinalSigma(double[] sig, float last) {
        float[] out = new float[sig.length + 1];
        for (int i = 0; i < sig.length; i++) {
            out[i] = (float) sig[i];
        }
        out[sig.length] = last;
        return out;
    }

    /** Float32 {@code 1 / (sigma**2 + 1) ** 0.5} (torch's reciprocal for {@code 1 / t}). */
    static float alphaOfSigma(float sigma) {
        return 1f / ScheduleMath.sqrtf(sigma * sigma + 1f);
    }

    /** (alpha_t, sigma_t) of a sigma, float32 (the multistep solvers' {@code _sigma_to_alpha_sigma_t}). */
    static float[] alphaSigma(float sigma) {
        float alpha = alphaOfSigma(sigma);
        return new float[] {alpha, sigma * alpha};
    }

    /** lambda_t = log(alpha_t) − log(sigma_t), float32. */
    static float lambda(float[] alphaSigma) {
        return ScheduleMath.logf(alphaSigma[0]) - ScheduleMath.logf(alphaSigma[1]);
    }

    /**
     * DPM-Solver's {@code clipped_idx = searchsorted(flip(lambda_t), lambda_min_clipped)}: how many of the training
     * schedule's float32 lambdas (log √ᾱ − log √(1 − ᾱ)) lie below {@code lambdaMinClipped}.
     */
    static int clippedLambdas(TrainSchedule train, double lambdaMinClipped) {
        float[] ac = train.alphasCumprod;
        int clipped = 0;
        for (int i = train.numTrainTimesteps - 1; i >= 0; i--) {
            float lambda = ScheduleMath.logf(ScheduleMath.sqrtf(ac[i])) - ScheduleMath.logf(ScheduleMath.sqrtf(1f - ac[i]));
            if (lambda < lambdaMinClipped) {
                clipped++;
            }
        }
        return clipped;
    }

    /** solver_order of the multistep solvers: 1, 2 or 3 (default 2). */
    static int solverOrder(SamplerConfig c) {
        int order = c.get(SharedOptions.SOLVER_ORDER);
        if (order < 1 || order > 3) {
            throw c.bad("solver_order", "1, 2 or 3");
        }
        return order;
    }

    /** prediction_type of the multistep solvers: epsilon, sample or v_prediction (flow_prediction is refused). */
    static String multistepPredictionType(SamplerConfig c) {
        SamplerOption<String> p = SharedOptions.MULTISTEP_PREDICTION_TYPE;
        if (c.is(p, "flow_prediction")) {
            throw c.refuse("sampler option 'prediction_type' = flow_prediction is not supported (flow-matching models)", p);
        }
        return c.get(p);
    }

    /** Refuses the flow-matching switches use_flow_sigmas and use_dynamic_shifting (absent or false only). */
    static void refuseFlowMatching(SamplerConfig c) {
        c.get(SharedOptions.USE_FLOW_SIGMAS);
        c.get(SharedOptions.USE_DYNAMIC_SHIFTING);
    }

    static List<NDArray> newList() {
        return new ArrayList<>();
    }
}
