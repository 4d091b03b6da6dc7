package dev.sdcfg.guidance;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import java.util.HashMap;
import java.util.Map;

/**
 * The notebook's guidance transform: each guided step runs <em>pre-process → guide → post-process</em> on the
 * unconditional prediction u and the text-conditioned prediction t, reading every parameter from its per-step
 * schedule (the plan's map from parameter name to values), so any parameter can be scheduled.
 *
 * <p>The default steps are plain CFG: pre-process sets {@code base = u} and {@code direction = t − u}; guide
 * returns {@code base + g·direction}; post-process returns the prediction unchanged. Normalizers override the
 * step they change. One instance serves one job (it may hold state across steps, such as APG's momentum) and
 * owns a small NDManager for its long-lived tensors: per-step parameter values kept on the device (so the hot
 * path creates no scalar tensor from Java), constants and state. {@link #close()} frees them.
 */
public abstract class GuidanceTransform implements AutoCloseable {

    /** One step's working state. */
    protected static final class Step {
        /** Step index. */
        public final int index;
        public final NDArray u;
        public final NDArray t;
        /** The axes a per-image reduction runs over (all but the batch axis). */
        public final int[] axes;
        /** What the scaled update is added to (u; α·u for CFG-Zero*). */
        public NDArray base;
        /** The update direction that g scales (t − u, or its normalised / projected form). */
        public NDArray direction;
        private NDArray uNorm;
        private final Shape flat;
        private final Shape kept;
        private static final int[] LAST = {1};

        Step(int index, NDArray u, NDArray t) {
            this.index = index;
            this.u = u;
            this.t = t;
            Shape shape = u.getShape();
            int rank = shape.dimension();
            axes = new int[rank - 1];
            long[] keptDims = new long[rank];
            keptDims[0] = shape.get(0);
            for (int k = 1; k < rank; k++) {
                axes[k - 1] = k;
                keptDims[k] = 1;
            }
            flat = new Shape(shape.get(0), -1);
            kept = new Shape(keptDims);
        }

        /**
         * Mean per image, shape [B,1,1,1]. DJL's PyTorch mean takes a single axis, so it runs over the flattened
         * image (torch accumulates half precision in float, so no fp16 sum can overflow on the way).
         */
        public NDArray mean(NDArray x) {
            return x.reshape(flat).mean(LAST, true).reshape(kept);
        }

        /** ‖x‖ per image, shape [B,1,1,1]. */
        public NDArray norm(NDArray x) {
            return x.norm(2, axes, true);
        }

        /** ‖u‖ per image (computed once per step). */
        public NDArray uNorm() {
            if (uNorm == null) {
                uNorm = norm(u);
            }
            return uNorm;
        }
    }

    private final GuidancePlan plan;
    private NDManager manager;
    private DataType dtype;
    private Device device;
    private final Map<String, NDArray> paramTensors = new HashMap<>();
    private final Map<ConstantKey, NDArray> constants = new HashMap<>();

    private record ConstantKey(double value, DataType type) {
    }

    protected GuidanceTransform(GuidancePlan plan) {
        this.plan = plan;
    }

    /**
     * Runs pre-process → guide → post-process for step {@code i}. Intermediates are closed before it returns;
     * the result is registered with the caller's {@link NDScope} (if any) like the result of any other op.
     */
    public final NDArray apply(int i, NDArray u, NDArray t) {
        NDArray pred;
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            bind(u);
            Step s = new Step(i, u, t);
            preProcess(s);
            pred = guide(s);
            pred = postProcess(s, pred);
            NDScope.unregister(pred);
        }
        NDScope.register(pred);
        return pred;
    }

    /** Prepares {@code base} and {@code direction}; default: u and t − u. */
    protected void preProcess(Step s) {
        s.base = s.u;
        s.direction = s.t.sub(s.u);
    }

    /**
     * The guided prediction; default: {@code base + g·direction}. (base comes first so that the result is
     * attached to the caller's manager, even when direction is a tensor this transform keeps.)
     */
    protected NDArray guide(Step s) {
        return s.base.add(s.direction.mul(param("g", s)));
    }

    /** Adjusts the prediction; default: none. */
    protected NDArray postProcess(Step s, NDArray pred) {
        return pred;
    }

    /** The value of a parameter at this step, as a Java number (for decisions, not arithmetic). */
    protected double value(String name, Step s) {
        return plan.value(name, s.index);
    }

    /**
     * The value of a parameter at this step as a 0-dim tensor in the dtype and on the device of u. The values
     * of all steps are moved to the device once per job; a step then costs one indexing op (none for a constant).
     */
    protected NDArray param(String name, Step s) {
        NDArray all = paramTensors.get(name);
        if (all == null) {
            Schedule sch = plan.schedule(name);
            all = sch.isConstant() ? keep(manager.create(sch.value(0, plan.steps())))
                    : keep(manager.create(plan.values(name)));
            paramTensors.put(name, all);
        }
        return all.getShape().dimension() == 0 ? all : all.get(s.index);
    }

    /** A 0-dim constant in the dtype and on the device of u, made once per job. */
    protected NDArray constant(double v) {
        return constant(v, dtype);
    }

    /** A 0-dim constant of the given dtype on the device of u, made once per job. */
    protected NDArray constant(double v, DataType type) {
        ConstantKey key = new ConstantKey(v, type);
        NDArray c = constants.get(key);
        if (c == null) {
            c = keep(manager.create(v), type);
            constants.put(key, c);
        }
        return c;
    }

    /**
     * Keeps {@code a} beyond the current step: casts it to the job's dtype, moves it to this transform's
     * manager and out of the step's scope. Free it with {@link #release}.
     */
    protected NDArray keep(NDArray a) {
        return keep(a, dtype);
    }

    private NDArray keep(NDArray a, DataType type) {
        NDArray k = a.getDataType() == type ? a : a.toType(type, false);
        if (k != a) {
            a.close();
        }
        NDScope.unregister(k);
        if (k.getManager() != manager) {
            k.attach(manager);
        }
        return k;
    }

    protected static void release(NDArray a) {
        if (a != null) {
            a.close();
        }
    }

    /** Makes the long-lived tensors match u's device and dtype (a job normally never changes them). */
    private void bind(NDArray u) {
        if (manager != null && u.getDataType() == dtype && u.getDevice().equals(device)) {
            return;
        }
        if (manager != null) {
            manager.close();
            paramTensors.clear();
            constants.clear();
            onRebind();
        }
        device = u.getDevice();
        dtype = u.getDataType();
        manager = NDManager.newBaseManager(device, u.getManager().getEngine().getEngineName());
    }

    /** Called when the long-lived tensors were freed because u's device or dtype changed. */
    protected void onRebind() {
    }

    @Override
    public void close() {
        if (manager != null) {
            manager.close();
            manager = null;
            paramTensors.clear();
            constants.clear();
        }
    }
}
