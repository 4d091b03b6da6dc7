package dev.sdcfg.pipeline;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;

import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * A request's sampler config overrides ({@code "sampler_options"}), e.g. {@code {"use_karras_sigmas": true,
 * "timestep_spacing": "trailing"}}: an immutable JSON object carried from the HTTP edge to the worker. Which keys
 * and values a sampler takes is the sampler's business ({@code SamplerFactory} checks them when it builds one);
 * this value only guarantees an object, in the order given.
 *
 * <p>{@link #canonicalJson()} is its JSON text and {@link #parse(String)} reads it back equal: that is the form
 * that is echoed, written into PNG text and stored.
 */
public final class SamplerOverrides {

    /** The request field these overrides come from (error paths start with it). */
    public static final String FIELD = "sampler_options";

    /** No overrides. */
    public static final SamplerOverrides NONE = new SamplerOverrides(new JsonObject());

    private final JsonObject json;
    private final String canonical;

    private SamplerOverrides(JsonObject json) {
        this.json = json;
        this.canonical = json.toString();
    }

    /** The overrides of a JSON object (copied; null: {@link #NONE}). */
    public static SamplerOverrides of(JsonObject json) {
        return json == null || json.isEmpty() ? NONE : new SamplerOverrides(json.deepCopy());
    }

    /**
     * Reads JSON object text (null or blank: {@link #NONE}); anything else is an {@link InvalidRequestException}
     * on {@value #FIELD}.
     */
    public static SamplerOverrides parse(String jsonText) {
        if (jsonText == null || jsonText.isBlank()) {
            return NONE;
        }
        JsonElement e;
        try {
            e = JsonParser.parseString(jsonText);
        } catch (JsonParseException ex) {
            throw new InvalidRequestException(FIELD, "sampler_options is not valid JSON");
        }
        if (!e.isJsonObject()) {
            throw new InvalidRequestException(FIELD, "sampler_options must be a JSON object");
        }
        return of(e.getAsJsonObject());
    }

    public boolean isEmpty() {
        return json.isEmpty();
    }

    /** The option keys, in the order given. */
    public Set<String> keys() {
        return Collections.unmodifiableSet(new LinkedHashSet<>(json.keySet()));
    }

    /** The overrides as a fresh JSON object (the sampler factory's input). */
    public JsonObject toJson() {
        return json.deepCopy();
    }

    /** The JSON text; {@link #parse(String)} of it gives an equal value. */
    public String canonicalJson() {
        return canonical;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SamplerOverrides s && canonical.equals(s.canonical);
    }

    @Override
    public int hashCode() {
        return canonical.hashCode();
    }

    @Override
    public String toString() {
        return canonical;
    }
}
