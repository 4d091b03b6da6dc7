package dev.sdcfg.guidance;

import ai.djl.ndarray.NDArray;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A guidance spec bound to one job's step count: every parameter's value at every step, which steps are
 * guided, and the job's {@link GuidanceTransform} (which may carry state across steps, e.g. APG's momentum, so
 * use one plan per job and call {@link #guide} for steps in order). Close it when the job ends.
 *
 * <p>Per step i the pipeline asks {@link #needsUnconditional(int)}: when false it may skip the unconditional
 * UNet pass and pass {@code u = null} to {@link #guide}.
 */
public final class GuidancePlan implements AutoCloseable {

    private final GuidanceSpec spec;
    private final int steps;
    private final Map<String, double[]> values = new LinkedHashMap<>();
    private final int guidedFrom;
    private final int guidedTo;
    private final int zeroInitSteps;
    private final GuidanceTransform transform;

    GuidancePlan(GuidanceSpec spec, int steps) {
        this.spec = spec;
        this.steps = steps;
        for (Map.Entry<String, Schedule> e : spec.params().entrySet()) {
            values.put(e.getKey(), e.getValue().values(steps));
        }
        guidedFrom = spec.interval().firstStep(steps);
        guidedTo = spec.interval().endStep(steps);
        double[] z = values.get("zero_init_steps");
        zeroInitSteps = z == null ? 0 : (int) z[0];
        transform = spec.normalizer().newTransform(this);
    }

    public GuidanceSpec spec() {
        return spec;
    }

    public int steps() {
        return steps;
    }

    /** Whether step i's prediction is all zeros (CFG-Zero*'s zero-init steps). */
    public boolean isZeroInit(int i) {
        checkStep(i);
        return i < zeroInitSteps;
    }

    /** Whether guidance is applied at step i (inside the interval and not a zero-init step). */
    public boolean isGuided(int i) {
        checkStep(i);
        return i >= zeroInitSteps && i >= guidedFrom && i < guidedTo;
    }

    /** Whether step i needs the unconditional prediction u; when false, the unconditional UNet pass can be skipped. */
    public boolean needsUnconditional(int i) {
        return isGuided(i);
    }

    /** The value of a parameter (g, phi, eta…) at step i. */
    public double value(String param, int i) {
        checkStep(i);
        return valuesOf(param)[i];
    }

    /** The values of a parameter for steps 0..steps−1 (a copy). */
    public double[] values(String param) {
        return valuesOf(param).clone();
    }

    Schedule schedule(String param) {
        Schedule s = spec.params().get(param);
        if (s == null) {
            throw new IllegalArgumentException("normalizer '" + spec.normalizer().id() + "' has no parameter '" + param + "'");
        }
        return s;
    }

    private double[] valuesOf(String param) {
        double[] v = values.get(param);
        if (v == null) {
            throw new IllegalArgumentException("normalizer '" + spec.normalizer().id() + "' has no parameter '" + param
                    + "' (it has " + values.keySet() + ")");
        }
        return v;
    }

    /**
     * The guided noise prediction for step i from u (unconditional; may be null when
     * {@link #needsUnconditional(int)} is false) and t (text-conditioned), both [B,C,H,W] of one dtype.
     * Unguided steps return {@code t} itself; zero-init steps return zeros shaped like t. Otherwise the result is
     * a new array (registered with the caller's NDScope, if any), attached to the manager of u or t.
     */
    public NDArray guide(int i, NDArray u, NDArray t) {
        if (t == null) {
            throw new IllegalArgumentException("the text-conditioned prediction t is required");
        }
        if (isZeroInit(i)) {
            return t.zerosLike();
        }
        if (!isGuided(i)) {
            return t;
        }
        if (u == null) {
            throw new IllegalArgumentException("step " + i + " is guided: the unconditional prediction u is required");
        }
        if (!u.getShape().equals(t.getShape()) || u.getDataType() != t.getDataType()) {
            throw new IllegalArgumentException("u " + u.getShape() + " " + u.getDataType() + " and t " + t.getShape()
                    + " " + t.getDataType() + " differ");
        }
        if (u.getShape().dimension() < 2) {
            throw new IllegalArgumentException("predictions must be batched [B,...], got " + u.getShape());
        }
        return transform.apply(i, u, t);
    }

    private void checkStep(int i) {
        if (i < 0 || i >= steps) {
            throw new IndexOutOfBoundsException("step " + i + " outside 0.." + (steps - 1));
        }
    }

    /** Frees the transform's device tensors (parameter values, momentum). */
    @Override
    public void close() {
        transform.close();
    }
}
