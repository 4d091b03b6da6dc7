package dev.sdcfg.model.config;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.model.ModelLoadException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * A component's {@code config.json} with typed getters. A missing key or JSON null gives the default (as
 * diffusers' register_to_config defaults do); a value of the wrong type or outside the supported set fails
 * with the file and key in the message.
 */
public final class JsonConfig {

    private final String source;
    private final JsonObject json;

    public JsonConfig(String source, JsonObject json) {
        this.source = source;
        this.json = json;
    }

    public static JsonConfig read(Path file) {
        if (!Files.isRegularFile(file)) {
            throw new ModelLoadException("missing config file " + file);
        }
        try {
            String text = Files.readString(file, StandardCharsets.UTF_8);
            return new JsonConfig(file.toString(), JsonParser.parseString(text).getAsJsonObject());
        } catch (IOException | RuntimeException e) {
            throw new ModelLoadException("cannot read config " + file + ": " + e.getMessage(), e);
        }
    }

    public static JsonConfig parse(String source, String text) {
        return new JsonConfig(source, JsonParser.parseString(text).getAsJsonObject());
    }

    public String source() {
        return source;
    }

    public JsonObject json() {
        return json;
    }

    public boolean has(String key) {
        JsonElement e = json.get(key);
        return e != null && !e.isJsonNull();
    }

    private JsonElement get(String key) {
        JsonElement e = json.get(key);
        return e == null || e.isJsonNull() ? null : e;
    }

    public int getInt(String key, int dflt) {
        JsonElement e = get(key);
        if (e == null) {
            return dflt;
        }
        try {
            double d = e.getAsDouble();
            if (d != Math.rint(d)) {
                throw bad(key, e, "an integer");
            }
            return (int) d;
        } catch (RuntimeException ex) {
            throw bad(key, e, "an integer");
        }
    }

    public int requireInt(String key) {
        if (!has(key)) {
            throw new ModelLoadException(source + ": missing required key '" + key + "'");
        }
        return getInt(key, 0);
    }

    public double getDouble(String key, double dflt) {
        JsonElement e = get(key);
        if (e == null) {
            return dflt;
        }
        try {
            return e.getAsDouble();
        } catch (RuntimeException ex) {
            throw bad(key, e, "a number");
        }
    }

    public boolean getBool(String key, boolean dflt) {
        JsonElement e = get(key);
        if (e == null) {
            return dflt;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
            throw bad(key, e, "true or false");
        }
        return e.getAsBoolean();
    }

    /**
     * A boolean as diffusers/transformers see it: absent gives {@code dflt}, but an explicit JSON null is passed to
     * the Python constructor as {@code None}, which every {@code if flag:} test reads as false.
     */
    public boolean getPyBool(String key, boolean dflt) {
        JsonElement e = json.get(key);
        if (e == null) {
            return dflt;
        }
        return !e.isJsonNull() && getBool(key, dflt);
    }

    /** True when the key is present with an explicit JSON null. */
    public boolean isNull(String key) {
        JsonElement e = json.get(key);
        return e != null && e.isJsonNull();
    }

    public String getString(String key, String dflt) {
        JsonElement e = get(key);
        if (e == null) {
            return dflt;
        }
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isString()) {
            throw bad(key, e, "a string");
        }
        return e.getAsString();
    }

    /** A string restricted to {@code allowed}; anything else is an unsupported config value. */
    public String getEnum(String key, String dflt, String... allowed) {
        String v = getString(key, dflt);
        if (v == null && dflt == null) {
            return null;
        }
        if (!Arrays.asList(allowed).contains(v)) {
            throw new ModelLoadException(source + ": unsupported value " + quote(v) + " for '" + key
                    + "' (supported: " + String.join(", ", allowed) + ")");
        }
        return v;
    }

    public boolean isArray(String key) {
        JsonElement e = get(key);
        return e != null && e.isJsonArray();
    }

    public int[] getIntArray(String key, int[] dflt) {
        JsonElement e = get(key);
        if (e == null) {
            return dflt;
        }
        if (!e.isJsonArray()) {
            throw bad(key, e, "an array of integers");
        }
        JsonArray a = e.getAsJsonArray();
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            try {
                out[i] = a.get(i).getAsInt();
            } catch (RuntimeException ex) {
                throw bad(key, e, "an array of integers");
            }
        }
        return out;
    }

    /** An int or a list of ints; a single int is repeated {@code n} times. */
    public int[] getIntOrArray(String key, int n, int dflt) {
        JsonElement e = get(key);
        if (e == null) {
            int[] out = new int[n];
            Arrays.fill(out, dflt);
            return out;
        }
        if (e.isJsonArray()) {
            int[] out = getIntArray(key, null);
            if (out.length != n) {
                throw new ModelLoadException(source + ": '" + key + "' has " + out.length + " entries, expected " + n);
            }
            return out;
        }
        int v = getInt(key, dflt);
        int[] out = new int[n];
        Arrays.fill(out, v);
        return out;
    }

    public double[] getDoubleArray(String key) {
        JsonElement e = get(key);
        if (e == null) {
            return null;
        }
        if (!e.isJsonArray()) {
            throw bad(key, e, "an array of numbers");
        }
        JsonArray a = e.getAsJsonArray();
        double[] out = new double[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsDouble();
        }
        return out;
    }

    public List<String> getStringList(String key) {
        JsonElement e = get(key);
        if (e == null) {
            return null;
        }
        if (!e.isJsonArray()) {
            throw bad(key, e, "an array of strings");
        }
        List<String> out = new ArrayList<>();
        for (JsonElement x : e.getAsJsonArray()) {
            out.add(x.isJsonNull() ? null : x.getAsString());
        }
        return out;
    }

    /** Fails when a key the model would need to honour is set to a value this runtime does not implement. */
    public void requireAbsentOr(String key, Set<Object> allowed) {
        JsonElement e = get(key);
        if (e == null) {
            return;
        }
        Object v = e.isJsonPrimitive() ? (e.getAsJsonPrimitive().isNumber() ? (Object) e.getAsDouble()
                : e.getAsJsonPrimitive().isBoolean() ? (Object) e.getAsBoolean() : e.getAsString()) : e.toString();
        for (Object a : allowed) {
            if (a instanceof Number && v instanceof Double && ((Number) a).doubleValue() == (Double) v) {
                return;
            }
            if (a.equals(v)) {
                return;
            }
        }
        throw new ModelLoadException(source + ": unsupported value " + e + " for '" + key + "'");
    }

    private ModelLoadException bad(String key, JsonElement e, String what) {
        return new ModelLoadException(source + ": '" + key + "' must be " + what + ", got " + e);
    }

    private static String quote(String s) {
        return s == null ? "null" : "'" + s + "'";
    }
}
