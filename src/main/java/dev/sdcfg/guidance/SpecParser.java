package dev.sdcfg.guidance;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import dev.sdcfg.pipeline.InvalidRequestException;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Parses and validates a guidance spec from Gson; every error names its JSON path. */
final class SpecParser {

    private static final Set<String> RESERVED = Set.of("preset", "normalizer", "interval");

    /** Schedule kinds and their fields (in canonical order). */
    static final Map<String, List<String>> SCHEDULE_FIELDS = new LinkedHashMap<>();

    static {
        SCHEDULE_FIELDS.put("constant", List.of("value"));
        SCHEDULE_FIELDS.put("cosine", List.of("max", "min", "warmup", "warmup_start"));
        SCHEDULE_FIELDS.put("linear", List.of("from", "to"));
        SCHEDULE_FIELDS.put("power", List.of("from", "to", "exponent"));
        SCHEDULE_FIELDS.put("step", List.of("before", "after", "at"));
        SCHEDULE_FIELDS.put("array", List.of("values"));
    }

    private SpecParser() {
    }

    static GuidanceSpec parse(JsonElement json, String path) {
        if (json == null || json.isJsonNull()) {
            return GuidanceSpec.DEFAULT;
        }
        if (json.isJsonPrimitive()) {
            JsonPrimitive p = json.getAsJsonPrimitive();
            if (p.isNumber()) {
                Normalizer n = Normalizer.NONE;
                Schedule g = constant(p, path, n.param("g"));
                return new GuidanceSpec(null, n, Map.of("g", g), Interval.ALL);
            }
            if (p.isString()) {
                JsonObject o = new JsonObject();
                o.add("preset", p);
                return parseObject(o, path, path);
            }
        }
        if (!json.isJsonObject()) {
            throw error(path, "expected a number (the guidance scale), a preset name or an object, got " + describe(json));
        }
        return parseObject(json.getAsJsonObject(), path, path + ".preset");
    }

    private static GuidanceSpec parseObject(JsonObject given, String path, String presetPath) {
        JsonObject obj = given;
        String preset = null;
        if (given.has("preset")) {
            preset = string(given.get("preset"), presetPath);
            JsonObject base = GuidancePresets.json(preset);
            if (base == null) {
                throw error(presetPath, "unknown preset '" + preset + "'; known: " + String.join(", ", GuidancePresets.names()));
            }
            for (Map.Entry<String, JsonElement> e : given.entrySet()) {
                if (!e.getKey().equals("preset")) {
                    base.add(e.getKey(), e.getValue());
                }
            }
            obj = base;
        }
        Normalizer normalizer = Normalizer.NONE;
        if (obj.has("normalizer")) {
            String id = string(obj.get("normalizer"), path + ".normalizer");
            normalizer = Normalizer.byId(id);
            if (normalizer == null) {
                throw error(path + ".normalizer", "unknown normalizer '" + id + "'; known: " + Normalizer.ids());
            }
        }
        Map<String, Schedule> params = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> e : obj.entrySet()) {
            String key = e.getKey();
            if (RESERVED.contains(key)) {
                continue;
            }
            Param p = normalizer.param(key);
            if (p == null) {
                throw error(path + "." + key, "unknown parameter '" + key + "' for normalizer '" + normalizer.id()
                        + "'; it takes: " + String.join(", ", normalizer.params().stream().map(Param::name).toList())
                        + " (and preset, normalizer, interval)");
            }
            params.put(key, schedule(e.getValue(), path + "." + key, p));
        }
        Interval interval = obj.has("interval") ? interval(obj.get("interval"), path + ".interval") : Interval.ALL;
        return new GuidanceSpec(preset, normalizer, params, interval);
    }

    // ------------------------------------------------------------------------------------------------ schedules

    /** One in-range number per step; {@code elementPath}[i] names a bad element. */
    private static double[] arrayValues(JsonArray a, String path, String elementPath, Param p) {
        if (a.isEmpty() || a.size() > GuidanceSpec.MAX_STEPS) {
            throw error(path, "the array must hold one number per step (1 to " + GuidanceSpec.MAX_STEPS
                    + "), got " + a.size());
        }
        double[] vals = new double[a.size()];
        for (int i = 0; i < vals.length; i++) {
            String ep = elementPath + "[" + i + "]";
            vals[i] = inRange(number(a.get(i), ep), ep, p);
        }
        return vals;
    }

    static Schedule schedule(JsonElement e, String path, Param p) {
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()) {
            return constant(e.getAsJsonPrimitive(), path, p);
        }
        if (e.isJsonArray() && p.schedulable()) {
            // a bare array is the explicit per-step schedule: shorthand for {"schedule":"array","values":[...]}
            return Schedule.array(arrayValues(e.getAsJsonArray(), path, path, p));
        }
        if (!e.isJsonObject()) {
            throw error(path, p.name() + " must be a number" + (p.schedulable() ? ", an array or a schedule object" : "")
                    + ", got " + describe(e));
        }
        if (!p.schedulable()) {
            throw error(path, p.name() + " cannot be scheduled: give a number");
        }
        JsonObject o = e.getAsJsonObject();
        if (!o.has("schedule")) {
            throw error(path + ".schedule", "a schedule object needs \"schedule\": one of " + String.join(", ", SCHEDULE_FIELDS.keySet()));
        }
        String kind = string(o.get("schedule"), path + ".schedule");
        List<String> fields = SCHEDULE_FIELDS.get(kind);
        if (fields == null) {
            throw error(path + ".schedule", "unknown schedule '" + kind + "'; known: " + String.join(", ", SCHEDULE_FIELDS.keySet()));
        }
        for (String k : o.keySet()) {
            if (!k.equals("schedule") && !fields.contains(k)) {
                throw error(path + "." + k, "unknown field '" + k + "' for schedule '" + kind + "'; it takes: " + String.join(", ", fields));
            }
        }
        switch (kind) {
            case "constant":
                return Schedule.constant(value(o, "value", path, p));
            case "cosine": {
                double max = value(o, "max", path, p);
                double min = value(o, "min", path, p);
                if (min > max) {
                    throw error(path + ".max", "max (" + Schedule.fmt(max) + ") must not be below min (" + Schedule.fmt(min) + ")");
                }
                double warmup = o.has("warmup") ? fraction(o, "warmup", path, 0, false, 1, true) : 0.0;
                if (o.has("warmup_start") && warmup == 0.0) {
                    throw error(path + ".warmup_start", "warmup_start needs a warmup fraction above 0");
                }
                double start = o.has("warmup_start") ? value(o, "warmup_start", path, p) : min;
                return Schedule.cosine(max, min, warmup, start);
            }
            case "linear":
                return Schedule.linear(value(o, "from", path, p), value(o, "to", path, p));
            case "power": {
                double from = value(o, "from", path, p);
                double to = value(o, "to", path, p);
                double exponent = number(required(o, "exponent", path), path + ".exponent");
                if (!(exponent > 0 && exponent <= 100)) {
                    throw error(path + ".exponent", "exponent must be above 0 and at most 100 (got " + Schedule.fmt(exponent) + ")");
                }
                return Schedule.power(from, to, exponent);
            }
            case "step":
                return Schedule.step(value(o, "before", path, p), value(o, "after", path, p),
                        fraction(o, "at", path, 0, false, 1, false));
            case "array": {
                JsonElement v = required(o, "values", path);
                if (!v.isJsonArray()) {
                    throw error(path + ".values", "values must be an array of numbers, got " + describe(v));
                }
                return Schedule.array(arrayValues(v.getAsJsonArray(), path + ".values", path + ".values", p));
            }
            default:
                throw new IllegalStateException(kind);
        }
    }

    private static Schedule constant(JsonPrimitive e, String path, Param p) {
        double v = inRange(number(e, path), path, p);
        if (p.integer() && v != Math.rint(v)) {
            throw error(path, p.name() + " must be a whole number (got " + Schedule.fmt(v) + ")");
        }
        return Schedule.constant(v);
    }

    private static double value(JsonObject o, String field, String path, Param p) {
        return inRange(number(required(o, field, path), path + "." + field), path + "." + field, p);
    }

    private static double fraction(JsonObject o, String field, String path, double lo, boolean loOpen, double hi,
                                   boolean hiOpen) {
        double v = number(required(o, field, path), path + "." + field);
        if (v < lo || (loOpen && v == lo) || v > hi || (hiOpen && v == hi)) {
            throw error(path + "." + field, field + " is a fraction of the steps and must be in " + (loOpen ? "(" : "[")
                    + Schedule.fmt(lo) + ", " + Schedule.fmt(hi) + (hiOpen ? ")" : "]") + " (got " + Schedule.fmt(v) + ")");
        }
        return v;
    }

    // ------------------------------------------------------------------------------------------------ interval

    private static Interval interval(JsonElement e, String path) {
        if (!e.isJsonObject()) {
            throw error(path, "interval must be an object {\"start\": fraction, \"end\": fraction}, got " + describe(e));
        }
        JsonObject o = e.getAsJsonObject();
        for (String k : o.keySet()) {
            if (!k.equals("start") && !k.equals("end")) {
                throw error(path + "." + k, "unknown field '" + k + "' in interval; it takes: start, end");
            }
        }
        double start = o.has("start") ? fraction(o, "start", path, 0, false, 1, true) : 0.0;
        double end = o.has("end") ? fraction(o, "end", path, 0, true, 1, false) : 1.0;
        if (end <= start) {
            throw error(path + ".end", "end (" + Schedule.fmt(end) + ") must be greater than start (" + Schedule.fmt(start) + ")");
        }
        return new Interval(start, end);
    }

    // ------------------------------------------------------------------------------------------------ primitives

    private static JsonElement required(JsonObject o, String field, String path) {
        JsonElement e = o.get(field);
        if (e == null || e.isJsonNull()) {
            throw error(path + "." + field, field + " is required");
        }
        return e;
    }

    private static double number(JsonElement e, String path) {
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
            throw error(path, "expected a number, got " + describe(e));
        }
        double v;
        try {
            v = e.getAsDouble();
        } catch (NumberFormatException ex) {
            throw error(path, "not a number: " + e);
        }
        if (!Double.isFinite(v)) {
            throw error(path, "must be a finite number (got " + e + ")");
        }
        return v;
    }

    private static double inRange(double v, String path, Param p) {
        if (!p.inRange(v)) {
            throw error(path, p.name() + " must be " + p.rangeText() + " (got " + Schedule.fmt(v) + ")");
        }
        return v;
    }

    private static String string(JsonElement e, String path) {
        if (e == null || !e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw error(path, "expected a string, got " + describe(e));
        }
        return e.getAsString();
    }

    private static String describe(JsonElement e) {
        if (e == null || e.isJsonNull()) {
            return "null";
        }
        if (e.isJsonArray()) {
            return "an array";
        }
        if (e.isJsonObject()) {
            return "an object";
        }
        JsonPrimitive p = e.getAsJsonPrimitive();
        return p.isBoolean() ? "a boolean" : p.isString() ? "a string" : "the number " + p;
    }

    private static InvalidRequestException error(String field, String message) {
        return new InvalidRequestException(field, message);
    }
}
