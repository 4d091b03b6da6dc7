package dev.sdcfg.guidance;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;

import java.util.Arrays;

/**
 * How one guidance parameter (g, φ, η…) changes across the denoising steps: {@link #value(int, int)} gives the
 * value at step {@code i} of {@code steps} (i = 0..steps−1). Fractions of the steps (warmup, step position) are
 * turned into step counts as Python's {@code int(steps·fraction)} does, as timm and diffusers do.
 */
public sealed interface Schedule {

    /** The value at step {@code i} (0-based) of a run with {@code steps} steps. */
    double value(int i, int steps);

    /** All values, for steps i = 0..steps−1. */
    default double[] values(int steps) {
        double[] v = new double[steps];
        for (int i = 0; i < steps; i++) {
            v[i] = value(i, steps);
        }
        return v;
    }

    /** The schedule kind as written in JSON ("constant", "cosine", ...). */
    String kind();

    /** Canonical JSON form: a bare number for a constant, otherwise an object with {@code "schedule"}. */
    JsonElement toJson();

    /** A short human form, e.g. {@code 7.5} or {@code cos(7.5→0.15)}. */
    String label();

    /** Whether the value is the same at every step (the hot path then needs no per-step indexing). */
    default boolean isConstant() {
        return false;
    }

    /** Every value the schedule can take lies between these (used to check a parameter's range). */
    double lowest();

    double highest();

    // ---------------------------------------------------------------------------------------------------------

    static Schedule constant(double v) {
        return new Constant(v);
    }

    /** timm {@code CosineLRScheduler(t_initial=N, lr_min=min)} at step i: {@code min + ½(max−min)(1+cos(π·i/N))}. */
    static Schedule cosine(double max, double min) {
        return new Cosine(max, min, 0.0, min);
    }

    /**
     * The cosine with a linear warmup over the first {@code W = int(N·warmup)} steps from {@code warmupStart}
     * (timm {@code warmup_t=W, warmup_lr_init=warmupStart, warmup_prefix=False}): the cosine is not shifted, so
     * its first W values are skipped.
     */
    static Schedule cosine(double max, double min, double warmup, double warmupStart) {
        return new Cosine(max, min, warmup, warmupStart);
    }

    /** Straight line from {@code from} at the first step to {@code to} at the last. */
    static Schedule linear(double from, double to) {
        return new Power(from, to, 1.0, "linear");
    }

    /** {@code from + (to−from)·(i/(N−1))^exponent}: from at the first step, to at the last. */
    static Schedule power(double from, double to, double exponent) {
        return new Power(from, to, exponent, "power");
    }

    /** {@code before} for steps i &lt; int(N·at), {@code after} from there on. */
    static Schedule step(double before, double after, double at) {
        return new Step(before, after, at);
    }

    /** One value per step; its length must equal the step count. */
    static Schedule array(double... values) {
        return new ArraySchedule(values.clone());
    }

    /** Python's {@code int(n * fraction)} for non-negative operands. */
    static int stepsOf(int steps, double fraction) {
        return (int) (steps * fraction);
    }

    // ---------------------------------------------------------------------------------------------------------

    record Constant(double v) implements Schedule {
        @Override
        public double value(int i, int steps) {
            return v;
        }

        @Override
        public String kind() {
            return "constant";
        }

        @Override
        public boolean isConstant() {
            return true;
        }

        @Override
        public JsonElement toJson() {
            return number(v);
        }

        @Override
        public String label() {
            return fmt(v);
        }

        @Override
        public double lowest() {
            return v;
        }

        @Override
        public double highest() {
            return v;
        }
    }

    record Cosine(double max, double min, double warmup, double warmupStart) implements Schedule {
        @Override
        public double value(int i, int steps) {
            int w = stepsOf(steps, warmup);
            if (i < w) {
                // timm: warmup_lr_init + t * (base - warmup_lr_init) / warmup_t
                return warmupStart + i * ((max - warmupStart) / w);
            }
            // timm (cycle 0, k_decay 1): lr_min + 0.5 * (lr_max - lr_min) * (1 + cos(pi * t / t_initial))
            return min + 0.5 * (max - min) * (1 + Math.cos(Math.PI * i / steps));
        }

        @Override
        public String kind() {
            return "cosine";
        }

        @Override
        public JsonElement toJson() {
            JsonObject o = new JsonObject();
            o.addProperty("schedule", kind());
            o.add("max", number(max));
            o.add("min", number(min));
            if (warmup > 0) {
                o.add("warmup", number(warmup));
                o.add("warmup_start", number(warmupStart));
            }
            return o;
        }

        @Override
        public String label() {
            String s = "cos(" + fmt(max) + "→" + fmt(min);
            if (warmup > 0) {
                s += ", warmup " + percent(warmup) + " from " + fmt(warmupStart);
            }
            return s + ")";
        }

        @Override
        public double lowest() {
            return warmup > 0 ? Math.min(min, warmupStart) : min;
        }

        @Override
        public double highest() {
            return warmup > 0 ? Math.max(max, warmupStart) : max;
        }
    }

    /** Linear ({@code exponent} 1, kind "linear") or power curve from {@code from} to {@code to}. */
    record Power(double from, double to, double exponent, String kind) implements Schedule {
        @Override
        public double value(int i, int steps) {
            if (steps <= 1) {
                return from;
            }
            double x = (double) i / (steps - 1);
            return from + (to - from) * (exponent == 1.0 ? x : Math.pow(x, exponent));
        }

        @Override
        public JsonElement toJson() {
            JsonObject o = new JsonObject();
            o.addProperty("schedule", kind);
            o.add("from", number(from));
            o.add("to", number(to));
            if (kind.equals("power")) {
                o.add("exponent", number(exponent));
            }
            return o;
        }

        @Override
        public String label() {
            return (kind.equals("power") ? "pow" + fmt(exponent) : "lin") + "(" + fmt(from) + "→" + fmt(to) + ")";
        }

        @Override
        public double lowest() {
            return Math.min(from, to);
        }

        @Override
        public double highest() {
            return Math.max(from, to);
        }
    }

    record Step(double before, double after, double at) implements Schedule {
        @Override
        public double value(int i, int steps) {
            return i < stepsOf(steps, at) ? before : after;
        }

        @Override
        public String kind() {
            return "step";
        }

        @Override
        public JsonElement toJson() {
            JsonObject o = new JsonObject();
            o.addProperty("schedule", kind());
            o.add("before", number(before));
            o.add("after", number(after));
            o.add("at", number(at));
            return o;
        }

        @Override
        public String label() {
            return "step(" + fmt(before) + "→" + fmt(after) + " at " + percent(at) + ")";
        }

        @Override
        public double lowest() {
            return Math.min(before, after);
        }

        @Override
        public double highest() {
            return Math.max(before, after);
        }
    }

    record ArraySchedule(double[] values) implements Schedule {
        @Override
        public double value(int i, int steps) {
            if (values.length != steps) {
                throw new IllegalArgumentException("array schedule has " + values.length + " values for " + steps + " steps");
            }
            return values[i];
        }

        @Override
        public String kind() {
            return "array";
        }

        @Override
        public JsonElement toJson() {
            JsonObject o = new JsonObject();
            o.addProperty("schedule", kind());
            JsonArray a = new JsonArray();
            for (double v : values) {
                a.add(number(v));
            }
            o.add("values", a);
            return o;
        }

        @Override
        public String label() {
            return "array(" + fmt(values[0]) + "…" + fmt(values[values.length - 1]) + ")";
        }

        @Override
        public double lowest() {
            return Arrays.stream(values).min().orElse(Double.NaN);
        }

        @Override
        public double highest() {
            return Arrays.stream(values).max().orElse(Double.NaN);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof ArraySchedule a && Arrays.equals(values, a.values);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(values);
        }

        @Override
        public String toString() {
            return "ArraySchedule" + Arrays.toString(values);
        }
    }

    // ---------------------------------------------------------------------------------------------------------

    /**
     * A JSON number that prints integers without ".0" and keeps every double exactly (shortest round-trip form),
     * the sign of a zero included ({@code -0.0}).
     */
    static JsonPrimitive number(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15 && Double.doubleToRawLongBits(v) != Long.MIN_VALUE) {
            return new JsonPrimitive((long) v);
        }
        return new JsonPrimitive(v);
    }

    /** A fraction as a percentage for labels: 0.1 → "10%". */
    static String percent(double fraction) {
        return java.math.BigDecimal.valueOf(fraction).movePointRight(2).stripTrailingZeros().toPlainString() + "%";
    }

    /** Short decimal text of a value for labels: 7.5, 0.15, 10. */
    static String fmt(double v) {
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return Long.toString((long) v);
        }
        String s = Double.toString(v);
        return s.contains("E") ? s : java.math.BigDecimal.valueOf(v).stripTrailingZeros().toPlainString();
    }
}
