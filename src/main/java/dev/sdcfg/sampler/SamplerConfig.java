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
import java.util.LinkedHashSet;
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

    /** Where a request's {@code sampler_options} come from (the other origins are the model's file and the preset). */
    static final String REQUEST = "sampler options";

    private final Map<String, JsonElement> values;
    private final Map<String, String> origin;
    /** For each key the request set: the value it had before (from the model's file or the preset; null: none). */
    private final Map<String, JsonElement> beforeRequest;
    /** The sampler's declared options by key (null: any option may be read). */
    private final Map<String, SamplerOption<?>> declared;
    private final Set<String> read = new LinkedHashSet<>();

    private SamplerConfig(Map<String, JsonElement> values, Map<String, String> origin, Map<String, JsonElement> beforeRequest,
            Map<String, SamplerOption<?>> declared) {
        this.values = values;
        this.origin = origin;
        this.beforeRequest = beforeRequest;
        this.declared = declared;
    }

    /**
     * Layers {@code base} (a scheduler_config.json; {@code _}-prefixed keys and the keys listed in
     * {@code _use_default_values} are dropped), {@code preset} and {@code overrides}; later layers win. The sampler
     * may read only the declared {@code options}.
     */
    static SamplerConfig of(JsonObject base, String baseSource, JsonObject preset, JsonObject overrides,
            List<SamplerOption<?>> options) {
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
        Map<String, JsonElement> before = new LinkedHashMap<>();
        if (overrides != null) {
            for (Map.Entry<String, JsonElement> e : overrides.entrySet()) {
                before.put(e.getKey(), v.get(e.getKey()));
                v.put(e.getKey(), e.getValue());
                o.put(e.getKey(), REQUEST);
            }
        }
        Map<String, SamplerOption<?>> declared = null;
        if (options != null) {
            declared = new LinkedHashMap<>();
            for (SamplerOption<?> opt : options) {
                declared.put(opt.key, opt);
            }
        }
        return new SamplerConfig(v, o, before, declared);
    }

    /**
     * The value of a declared option: its default when absent or null, else checked against its type and accepted
     * values. Reading an option the sampler does not declare is a programming error.
     */
    <T> T get(SamplerOption<T> option) {
        markRead(option);
        return option.read(this);
    }

    private void markRead(SamplerOption<?> option) {
        if (declared != null && declared.get(option.key) != option) {
            throw new IllegalStateException("option '" + option.key + "' is read but not declared by this sampler");
        }
        read.add(option.key);
    }

    /** A string option's value without the check against its accepted values (where diffusers does not check it). */
    String unchecked(SamplerOption<String> option) {
        markRead(option);
        return getString(option.key, option.defaultValue);
    }

    /** Whether a string option is set to {@code value} (before {@link #get} checks it: for values refused with a reason). */
    boolean is(SamplerOption<String> option, String value) {
        JsonElement e = get(option.key);
        return e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isString() && e.getAsString().equals(value);
    }

    /** The keys read with {@link #get} so far. */
    Set<String> readKeys() {
        return Collections.unmodifiableSet(read);
    }

    /**
     * A combination refused for a reason of its own. The field is the first of {@code keys} that the request changed
     * (set to another value than the model's file, the preset or the default gave), else {@code sampler}: list first
     * the key whose change from its default breaks the combination.
     */
    SamplerOptionException refuse(String message, SamplerOption<?>... keys) {
        for (SamplerOption<?> k : keys) {
            if (changedByRequest(k)) {
                return new SamplerOptionException(message, "sampler_options." + k.key);
            }
        }
        return SamplerOptionException.sampler(message);
    }

    /**
     * Options that cannot go together, none more at fault than another: the field is the one the request changed, or
     * {@code sampler_options} when it changed several, or {@code sampler} when it changed none.
     */
    SamplerOptionException conflict(String message, List<SamplerOption<?>> keys) {
        List<String> changed = new ArrayList<>();
        for (SamplerOption<?> k : keys) {
            if (changedByRequest(k)) {
                changed.add(k.key);
            }
        }
        return changed.isEmpty() ? SamplerOptionException.sampler(message)
                : new SamplerOptionException(message, changed.size() == 1 ? "sampler_options." + changed.get(0) : "sampler_options");
    }

    private boolean fromRequest(String key) {
        return REQUEST.equals(origin.get(key));
    }

    /** Whether the request set {@code option} to a value other than the one it would have without the request. */
    private boolean changedByRequest(SamplerOption<?> option) {
        if (!fromRequest(option.key)) {
            return false;
        }
        JsonElement before = beforeRequest.get(option.key);
        if (before == null || before.isJsonNull()) {
            before = json(option.defaultValue);
        }
        JsonElement now = values.get(option.key);
        return !(now == null || now.isJsonNull() ? json(option.defaultValue) : now).equals(before);
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

    /**
     * A bad value of {@code key}. The field is {@code key} when the request set it, else the first of
     * {@code dependsOn} that the request set (a value that made this one wrong), else {@code sampler}.
     */
    SamplerOptionException bad(String key, String expected, SamplerOption<?>... dependsOn) {
        JsonElement e = values.get(key);
        String message = "sampler option '" + key + "' (from " + origin.getOrDefault(key, "defaults")
                + ") must be " + expected + ", got " + (e == null ? "nothing" : e.toString());
        if (fromRequest(key)) {
            return new SamplerOptionException(message, "sampler_options." + key);
        }
        return refuse(message, dependsOn);
    }

    int getInt(String key, int dflt) {
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

    double getDouble(String key, double dflt) {
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
    Double getDoubleOrNull(String key) {
        return has(key) ? getDouble(key, Double.NaN) : null;
    }

    boolean getBool(String key, boolean dflt) {
        JsonElement e = get(key);
        if (e == null) {
            return dflt;
        }
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isBoolean()) {
            return e.getAsBoolean();
        }
        throw bad(key, "true or false");
    }

    String getString(String key, String dflt) {
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
    String getEnum(String key, String dflt, String... allowed) {
        String v = getString(key, dflt);
        if (v == null || !Arrays.asList(allowed).contains(v)) {
            throw bad(key, "one of " + String.join(", ", allowed));
        }
        return v;
    }

    /** An array of numbers, or null when absent / JSON null. */
    double[] getDoubleArray(String key) {
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
    List<Integer> getIntList(String key) {
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
    void requireAbsentOr(String key, String why, JsonElement... allowed) {
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
        throw new SamplerOptionException("sampler option '" + key + "' (from " + origin.getOrDefault(key, "defaults")
                + ") = " + e + " is not supported: " + why, fromRequest(key) ? "sampler_options." + key : "sampler");
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
