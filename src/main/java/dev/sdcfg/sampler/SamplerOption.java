package dev.sdcfg.sampler;

import com.google.gson.JsonElement;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.function.BiFunction;

/**
 * One config argument of a diffusers scheduler, declared once: key, JSON type, the class's default, the accepted
 * values of a string, and a description. It plays the part of an {@code __init__} argument under diffusers'
 * {@code @register_to_config}: a sampler lists its options in {@code OPTIONS} (which {@code GET /v1/samplers} shows and
 * which request overrides must belong to) and reads each with {@link SamplerConfig#get}, which takes the default and
 * the accepted values from here; a bad value fails with a {@link SamplerOptionException} naming this key.
 *
 * <p>Options that vary by class (beta_start's default, prediction_type's values, ...) are separate declarations in
 * that class; the ones several classes share word for word are declared once in {@link SharedOptions}.
 *
 * @param <T> what {@link SamplerConfig#get} returns
 */
final class SamplerOption<T> {

    /** How an option is read. */
    enum Use {
        /** Read with its default and accepted values. */
        READ,
        /** Accepted only absent, JSON null or one fixed value (diffusers options for features not reproduced here). */
        FIXED,
        /** Accepted and not read: it changes nothing diffusers computes for these models. */
        UNUSED,
        /** Read from the model's scheduler config only; not listed and not a request option (diffusers' hidden config). */
        HIDDEN
    }

    final String key;
    final String type;
    final T defaultValue;
    final List<String> allowed;
    final String description;
    final Use use;
    private final BiFunction<SamplerConfig, SamplerOption<T>, T> reader;

    private SamplerOption(String key, String type, T defaultValue, List<String> allowed, String description, Use use,
            BiFunction<SamplerConfig, SamplerOption<T>, T> reader) {
        this.key = key;
        this.type = type;
        this.defaultValue = defaultValue;
        this.allowed = List.copyOf(allowed);
        this.description = description;
        this.use = use;
        this.reader = reader;
    }

    static SamplerOption<Integer> integer(String key, int dflt, String description) {
        return new SamplerOption<>(key, "integer", dflt, List.of(), description, Use.READ, (c, o) -> c.getInt(o.key, o.defaultValue));
    }

    static SamplerOption<Double> number(String key, double dflt, String description) {
        return new SamplerOption<>(key, "number", dflt, List.of(), description, Use.READ, (c, o) -> c.getDouble(o.key, o.defaultValue));
    }

    /** A number without a default: {@link SamplerConfig#get} returns null when absent. */
    static SamplerOption<Double> optionalNumber(String key, String description) {
        return new SamplerOption<>(key, "number", null, List.of(), description, Use.READ, (c, o) -> c.getDoubleOrNull(o.key));
    }

    static SamplerOption<Boolean> bool(String key, boolean dflt, String description) {
        return new SamplerOption<>(key, "boolean", dflt, List.of(), description, Use.READ, (c, o) -> c.getBool(o.key, o.defaultValue));
    }

    /** A string limited to {@code allowed}. */
    static SamplerOption<String> choice(String key, String dflt, List<String> allowed, String description) {
        return new SamplerOption<>(key, "string", dflt, allowed, description, Use.READ,
                (c, o) -> c.getEnum(o.key, o.defaultValue, o.allowed.toArray(String[]::new)));
    }

    /** An array of numbers without a default (null when absent). */
    static SamplerOption<double[]> numbers(String key, String description) {
        return new SamplerOption<>(key, "number[]", null, List.of(), description, Use.READ, (c, o) -> c.getDoubleArray(o.key));
    }

    /** An array of integers, empty by default. */
    static SamplerOption<List<Integer>> integers(String key, String description) {
        return new SamplerOption<>(key, "integer[]", List.of(), List.of(), description, Use.READ, (c, o) -> c.getIntList(o.key));
    }

    /**
     * An option accepted only absent, null or equal to one of {@code accepted}; anything else fails with "is not
     * supported: {@code why}".
     */
    static <T> SamplerOption<T> fixed(String key, String type, T dflt, List<String> allowed, String description, String why,
            JsonElement... accepted) {
        return new SamplerOption<>(key, type, dflt, allowed, description, Use.FIXED, (c, o) -> {
            c.requireAbsentOr(o.key, why, accepted);
            return null;
        });
    }

    /** An option accepted with any value and never read. */
    static <T> SamplerOption<T> unused(String key, String type, T dflt, List<String> allowed, String description) {
        return new SamplerOption<>(key, type, dflt, allowed, description, Use.UNUSED, (c, o) -> null);
    }

    /** The same option read from the model's scheduler config only (not listed, not a request option). */
    SamplerOption<T> hidden() {
        return new SamplerOption<>(key, type, defaultValue, allowed, description, Use.HIDDEN, reader);
    }

    /** The same option under another description. */
    SamplerOption<T> describedAs(String otherDescription) {
        return new SamplerOption<>(key, type, defaultValue, allowed, otherDescription, use, reader);
    }

    T read(SamplerConfig c) {
        return reader.apply(c, this);
    }

    /** Whether {@code GET /v1/samplers} lists it and a request may set it. */
    boolean listed() {
        return use != Use.HIDDEN;
    }

    /** The catalogue entry ({@code ±inf} defaults, which JSON cannot hold, as the strings {@code "inf"} / {@code "-inf"}). */
    SamplerInfo.Option info() {
        Object dflt = defaultValue;
        if (dflt instanceof Double d && d.isInfinite()) {
            dflt = d > 0 ? "inf" : "-inf";
        }
        return new SamplerInfo.Option(key, type, dflt, allowed, description);
    }

    /** Flattens options and lists of options into one list, keeping their order. */
    static List<SamplerOption<?>> list(Object... items) {
        List<SamplerOption<?>> out = new ArrayList<>();
        for (Object item : items) {
            if (item instanceof SamplerOption<?> o) {
                out.add(o);
            } else if (item instanceof Collection<?> many) {
                for (Object o : many) {
                    out.add((SamplerOption<?>) o);
                }
            } else {
                throw new IllegalArgumentException("not an option: " + item);
            }
        }
        return List.copyOf(out);
    }

    @Override
    public String toString() {
        return key;
    }
}
