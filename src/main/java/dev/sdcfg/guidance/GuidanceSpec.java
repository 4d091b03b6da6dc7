package dev.sdcfg.guidance;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import dev.sdcfg.pipeline.InvalidRequestException;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * A request's guidance: a {@link Normalizer}, a {@link Schedule} for each of its parameters (defaults filled
 * in) and the {@link Interval} of guided steps. Parsed and validated from JSON by {@link #parse(JsonElement)}
 * independently of the step count; {@link #validateFor(int)} / {@link #plan(int)} check what depends on it.
 *
 * <p>JSON forms (errors throw {@link InvalidRequestException} naming the JSON path, e.g. "guidance.g.max"):
 * <ul>
 *   <li>{@code 7.5} — plain CFG with constant g;</li>
 *   <li>{@code {"normalizer":"fullnorm","g":{"schedule":"cosine","max":0.25,"min":0.05}}} — any parameter as a
 *       number or a schedule object ({@code constant, cosine, linear, power, step, array});</li>
 *   <li>{@code "interval":{"start":0.0,"end":0.6}} — guidance only on those steps;</li>
 *   <li>{@code {"preset":"FullNormGuidance_Sched_TCos"}} (or the bare string), optionally with keys that
 *       override the preset's;</li>
 *   <li>null — {@link #DEFAULT}.</li>
 * </ul>
 * Two specs are equal when they apply the same guidance: their canonical JSON ({@link #toJson()}) without the
 * preset name is the same.
 */
public final class GuidanceSpec {

    /** Largest step count a plan accepts. */
    public static final int MAX_STEPS = 1000;

    /** The root JSON path of a request's guidance field. */
    public static final String FIELD = "guidance";

    /** Plain CFG with g = 7.5. */
    public static final GuidanceSpec DEFAULT = new GuidanceSpec(null, Normalizer.NONE,
            Map.of("g", Schedule.constant(7.5)), Interval.ALL);

    private final String preset;
    private final Normalizer normalizer;
    private final Map<String, Schedule> params;
    private final Interval interval;
    private final String canonical;
    /** The canonical JSON without the preset name: what decides equality. */
    private final String identity;

    GuidanceSpec(String preset, Normalizer normalizer, Map<String, Schedule> given, Interval interval) {
        this.preset = preset;
        this.normalizer = normalizer;
        Map<String, Schedule> all = new LinkedHashMap<>();
        for (Param p : normalizer.params()) {
            Schedule s = given.get(p.name());
            all.put(p.name(), s != null ? s : Schedule.constant(p.defaultValue()));
        }
        for (String k : given.keySet()) {
            if (!all.containsKey(k)) {
                throw new IllegalArgumentException("normalizer '" + normalizer.id() + "' has no parameter '" + k + "'");
            }
        }
        this.params = Collections.unmodifiableMap(all);
        this.interval = Objects.requireNonNull(interval);
        this.canonical = toJson().toString();
        JsonObject withoutPreset = toJson();
        withoutPreset.remove("preset");
        this.identity = withoutPreset.toString();
    }

    // ------------------------------------------------------------------------------------------------ parsing

    /** Parses the request field "guidance" (null or JSON null: {@link #DEFAULT}). */
    public static GuidanceSpec parse(JsonElement json) {
        return parse(json, FIELD);
    }

    /** Parses a spec found at JSON path {@code path} (used as the prefix of error fields). */
    public static GuidanceSpec parse(JsonElement json, String path) {
        return SpecParser.parse(json, path);
    }

    /** Parses JSON text (null or blank: {@link #DEFAULT}). */
    public static GuidanceSpec parse(String jsonText) {
        if (jsonText == null || jsonText.isBlank()) {
            return DEFAULT;
        }
        JsonElement e;
        try {
            e = JsonParser.parseString(jsonText);
        } catch (JsonParseException ex) {
            throw new InvalidRequestException(FIELD, "not valid JSON: " + ex.getMessage());
        }
        return parse(e);
    }

    /** A spec built in code; values are checked as parsing checks them. */
    public static GuidanceSpec of(Normalizer normalizer, Map<String, Schedule> params, Interval interval) {
        JsonObject o = new JsonObject();
        o.addProperty("normalizer", normalizer.id());
        params.forEach((k, v) -> o.add(k, v.toJson()));
        if (interval != null) {
            o.add("interval", interval.toJson());
        }
        return parse(o);
    }

    // ------------------------------------------------------------------------------------------------ steps

    /**
     * Checks what depends on the step count (array lengths, zero-init steps); throws InvalidRequestException naming
     * the field under {@value #FIELD} (an experiment's caller puts the spec's index in).
     */
    public void validateFor(int steps) {
        if (steps < 1 || steps > MAX_STEPS) {
            throw new InvalidRequestException("steps", "steps must be between 1 and " + MAX_STEPS + " (got " + steps + ")");
        }
        for (Map.Entry<String, Schedule> e : params.entrySet()) {
            if (e.getValue() instanceof Schedule.ArraySchedule a && a.values().length != steps) {
                // names the parameter: it may have been given as a bare array (no "values" field)
                throw new InvalidRequestException(FIELD + "." + e.getKey(), "the array schedule has "
                        + a.values().length + " values but the run has " + steps + " steps");
            }
        }
        Schedule z = params.get("zero_init_steps");
        if (z != null && z.value(0, steps) > steps) {
            throw new InvalidRequestException(FIELD + ".zero_init_steps", "zero_init_steps ("
                    + Schedule.fmt(z.value(0, steps)) + ") exceeds the step count (" + steps + ")");
        }
    }

    /** A plan for one job of {@code steps} steps (validated first). Close it when the job ends. */
    public GuidancePlan plan(int steps) {
        validateFor(steps);
        return new GuidancePlan(this, steps);
    }

    // ------------------------------------------------------------------------------------------------ accessors

    public Normalizer normalizer() {
        return normalizer;
    }

    /** Every parameter of the normalizer with its schedule, in the normalizer's order (g first). */
    public Map<String, Schedule> params() {
        return params;
    }

    public Schedule param(String name) {
        return params.get(name);
    }

    public Interval interval() {
        return interval;
    }

    /** The preset this spec was made from, or null. */
    public String preset() {
        return preset;
    }

    /**
     * Canonical JSON: {@code preset} when one was named, {@code normalizer}, every parameter (a number when
     * constant, else its schedule object; numbers in their shortest round-trip form) and {@code interval} unless it
     * is all steps. Parsing it gives an equal spec with the same preset, whose canonical JSON is the same again.
     */
    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        if (preset != null) {
            o.addProperty("preset", preset);
        }
        o.addProperty("normalizer", normalizer.id());
        params.forEach((k, v) -> o.add(k, v.toJson()));
        if (!interval.isAll()) {
            o.add("interval", interval.toJson());
        }
        return o;
    }

    /**
     * The canonical JSON as text ({@link #toJson()}): what a job echoes, what PNG text holds and what a stored request
     * keeps. {@link #parse(String)} reads it back to an equal spec with the same text.
     */
    public String canonicalJson() {
        return canonical;
    }

    /**
     * A short human title (for grid images): the preset name when the spec is exactly that preset, otherwise
     * e.g. {@code FullNorm g=cos(0.25→0.05)} or {@code APG g=7.5 η=1 thr=15 β=-0.5 [0%–60%)}.
     */
    public String label() {
        if (preset != null && equals(GuidancePresets.spec(preset))) {
            return preset;
        }
        StringBuilder b = new StringBuilder(normalizer.title());
        for (Param p : normalizer.params()) {
            b.append(' ').append(p.symbol()).append('=').append(params.get(p.name()).label());
        }
        if (!interval.isAll()) {
            b.append(' ').append(interval.label());
        }
        return b.toString();
    }

    /** Equality of the guidance applied (the canonical JSON without the preset name). */
    @Override
    public boolean equals(Object o) {
        return o instanceof GuidanceSpec s && identity.equals(s.identity);
    }

    @Override
    public int hashCode() {
        return identity.hashCode();
    }

    @Override
    public String toString() {
        return canonical;
    }
}
