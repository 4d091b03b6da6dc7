package dev.sdcfg.sampler;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A sampler's effective configuration: the model's {@code scheduler_config.json}, then a preset (e.g. the Karras
 * switch of {@code dpmpp_2m_karras}), then the request's overrides. Like diffusers' {@code from_config}, keys the
 * chosen class does not know are ignored when they come from the model file (they may belong to another class) but
 * stay visible to {@link #has} — diffusers registers them as hidden config, and some schedulers look them up with
 * {@code hasattr(self.config, "sigma_min")}. Every typed getter fails with an {@link IllegalArgumentException}
 * naming the key and where the value came from.
 */
public final class SamplerConfig {

    private final Map<String, JsonElement> values;
    private final Map<String, String> origin;

    private SamplerConfig(Map<String, JsonElement> values, Map<String, String> origin) {
        this.values = values;
        this.origin = origin;
    }

    /** An empty configuration (every value at its class default). */
    public static SamplerConfig empty() {
        return new SamplerConfig(new LinkedHashMap<>(), new LinkedHashMap<>());
    }

    /**
     * Layers {@code base} (a scheduler_config.json; {@code _}-prefixed keys and the keys listed in
     * {@code _use_default_values} are dropped), {@code preset} and {@code overrides}; later layers win.
     */
    public static SamplerConfig of(JsonObject base, String baseSource, JsonObject preset, JsonObject overrides) {
        Map<String, JsonElement> v = new LinkedHashMap<>();
        Map<String, String> o = new LinkedHashMap<>();
        if (base != null) {
            Set<String> useDefaults = new java.util.HashSet<>();
            JsonElement ud = base.get("_use_default_values");
            if (ud != null && ud.isJsonArray()) {
                for (JsonElement e : ud.getAsJsonArray()) {
                    if (e.isJsonPrimitive()) {
                        useDefaults.add(e.getAsString());
                    }
                }
            }
            for (Map.Entry<String, JsonElement> e : base.entrySet()) {
                if (e.getKey().startsWith("_") || useDefaults.contains(e.getKey())) {
                    continue;
                }
                v.put(e.getKey(), e.getValue());
                o.put(e.getKey(), baseSource == null ? "scheduler config" : baseSource);
            }
        }
        if (preset != null) {
            for (Map.Entry<String, JsonElement> e : preset.entrySet()) {
                v.put(e.getKey(), e.getValue());
                o.put(e.getKey(), "sampler preset");
            }
        }
        if (overrides != null) {
            for (Map.Entry<String, JsonElement> e : overrides.entrySet()) {
                v.put(e.getKey(), e.getValue());
                o.put(e.getKey(), "sampler options");
            }
        }
        return new SamplerConfig(v, o);
    }

    /** A copy with {@code key} set (used by tests and presets). */
    public SamplerConfig with(String key, JsonElement value) {
        Map<String, JsonElement> v = new LinkedHashMap<>(values);
        Map<String, String> o = new LinkedHashMap<>(origin);
        v.put(key, value);
        o.put(key, "sampler options");
        return new SamplerConfig(v, o);
    }

    /** True when the key is present and not JSON null. */
    public boolean has(String key) {
        JsonElement e = values.get(key);
        return e != null && !e.isJsonNull();
    }

    public Set<String> keys() {
        return Collections.unmodifiableSet(values.keySet());
    }

    /** The merged values as JSON (for logs and job records). */
    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        values.forEach(o::add);
        return o;
    }

    private JsonElement get(String key) {
        JsonElement e = values.get(key);
        return e == null || e.isJsonNull() ? null : e;
    }

    IllegalArgumentException bad(String key, String expected) {
        JsonElement e = values.get(key);
        return new IllegalArgumentException("sampler option '" + key + "' (from " + origin.getOrDefault(key, "defaults")
                + ") must be " + expected + ", got " + (e == null ? "nothing" : e.toString()));
    }

    public int getInt(String key, int dflt) {
        JsonElement e = get(key);
        if (e == null) {
            return dflt;
        }
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()) {
            double d = e.getAsDouble();
            if (d == Math.rint(d) && Math.abs(d) <= Integer.MAX_VALUE) {
                return (int) d;
            }
        }
        throw bad(key, "an integer");
    }

    public double getDouble(String key, double dflt) {
        JsonElement e = get(key);
        if (e == null) {
            return dflt;
        }
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()) {
            return e.getAsDouble();
        }
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString()) {
            // Python's json writes inf/-inf/nan as bare tokens; Gson lenient parsing may hand them over as strings
            String s = e.getAsString().trim().toLowerCase(java.util.Locale.ROOT);
            switch (s) {
                case "inf", "infinity", "+inf" -> {
                    return Double.POSITIVE_INFINITY;
                }
                case "-inf", "-infinity" -> {
                    return Double.NEGATIVE_INFINITY;
                }
                case "nan" -> {
                    return Double.NaN;
                }
                default -> {
                }
            }
        }
        throw bad(key, "a number");
    }

    /** A number, or null when absent / JSON null. */
    public Double getDoubleOrNull(String key) {
        return has(key) ? getDouble(key, Double.NaN) : null;
    }

    public boolean getBool(String key, boolean dflt) {
        JsonElement e = get(key);
        if (e == null) {
            return dflt;
        }
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isBoolean()) {
            return e.getAsBoolean();
        }
        throw bad(key, "true or false");
    }

    public String getString(String key, String dflt) {
        JsonElement e = get(key);
        if (e == null) {
            return dflt;
        }
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString()) {
            return e.getAsString();
        }
        throw bad(key, "a string");
    }

    /** A string limited to {@code allowed}. */
    public String getEnum(String key, String dflt, String... allowed) {
        String v = getString(key, dflt);
        if (v == null || !Arrays.asList(allowed).contains(v)) {
            throw bad(key, "one of " + String.join(", ", allowed));
        }
        return v;
    }

    /** An array of numbers, or null when absent / JSON null. */
    public double[] getDoubleArray(String key) {
        JsonElement e = get(key);
        if (e == null) {
            return null;
        }
        if (!e.isJsonArray()) {
            throw bad(key, "an array of numbers");
        }
        JsonArray a = e.getAsJsonArray();
        double[] out = new double[a.size()];
        for (int i = 0; i < out.length; i++) {
            JsonElement x = a.get(i);
            if (!x.isJsonPrimitive() || !x.getAsJsonPrimitive().isNumber()) {
                throw bad(key, "an array of numbers");
            }
            out[i] = x.getAsDouble();
        }
        return out;
    }

    /** An array of integers (empty when absent / null). */
    public List<Integer> getIntList(String key) {
        JsonElement e = get(key);
        List<Integer> out = new ArrayList<>();
        if (e == null) {
            return out;
        }
        if (!e.isJsonArray()) {
            throw bad(key, "an array of integers");
        }
        for (JsonElement x : e.getAsJsonArray()) {
            if (!x.isJsonPrimitive() || !x.getAsJsonPrimitive().isNumber() || x.getAsDouble() != Math.rint(x.getAsDouble())) {
                throw bad(key, "an array of integers");
            }
            out.add((int) x.getAsDouble());
        }
        return out;
    }

    /** Fails unless the value is absent, null, or one of {@code allowed} (for options we accept but do not vary). */
    public void requireAbsentOr(String key, String why, JsonElement... allowed) {
        JsonElement e = get(key);
        if (e == null) {
            return;
        }
        for (JsonElement a : allowed) {
            if (a.equals(e) || (a.isJsonPrimitive() && e.isJsonPrimitive() && a.getAsJsonPrimitive().isNumber()
                    && e.getAsJsonPrimitive().isNumber() && a.getAsDouble() == e.getAsDouble())) {
                return;
            }
        }
        throw new IllegalArgumentException("sampler option '" + key + "' (from " + origin.getOrDefault(key, "defaults")
                + ") = " + e + " is not supported: " + why);
    }

    String originOf(String key) {
        return origin.get(key);
    }

    static JsonElement json(Object o) {
        if (o == null) {
            return JsonNull.INSTANCE;
        }
        if (o instanceof Boolean b) {
            return new JsonPrimitive(b);
        }
        if (o instanceof Number n) {
            return new JsonPrimitive(n);
        }
        return new JsonPrimitive(o.toString());
    }
}
