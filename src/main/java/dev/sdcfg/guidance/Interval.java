package dev.sdcfg.guidance;

import com.google.gson.JsonObject;

/**
 * The part of the run where guidance is applied, [start, end) as fractions of the steps: step i is guided when
 * {@code int(start·N) ≤ i < int(end·N)} (diffusers' guider convention). Outside it the prediction is t alone and
 * the unconditional UNet pass is skipped.
 */
public record Interval(double start, double end) {

    /** Every step guided. */
    public static final Interval ALL = new Interval(0.0, 1.0);

    public int firstStep(int steps) {
        return Schedule.stepsOf(steps, start);
    }

    public int endStep(int steps) {
        return Schedule.stepsOf(steps, end);
    }

    public boolean isAll() {
        return start == 0.0 && end == 1.0;
    }

    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.add("start", Schedule.number(start));
        o.add("end", Schedule.number(end));
        return o;
    }

    public String label() {
        return "[" + Schedule.percent(start) + "–" + Schedule.percent(end) + ")";
    }
}
