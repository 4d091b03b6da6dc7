package dev.sdcfg.sampler;

/**
 * A sampler name or option that cannot be used, with the request field at fault, known from the option's declaration
 * and where its value came from (no sampler has to be built again to find it).
 */
public final class SamplerOptionException extends IllegalArgumentException {

    private final String field;

    SamplerOptionException(String message, String field) {
        super(message);
        this.field = field;
    }

    /** The sampler name (or the model's own scheduler config) is at fault. */
    static SamplerOptionException sampler(String message) {
        return new SamplerOptionException(message, "sampler");
    }

    /**
     * The request field at fault: {@code sampler} (the name, or a value from the model's scheduler config or the
     * name's preset), {@code sampler_options.KEY} (one request option), or {@code sampler_options} (several request
     * options that conflict with each other).
     */
    public String field() {
        return field;
    }

    /**
     * The field of any exception a sampler's creation or {@code setTimesteps} throws: {@link #field()}, and
     * {@code sampler_options} for the others (a step count the options do not allow).
     */
    public static String fieldOf(IllegalArgumentException e) {
        return e instanceof SamplerOptionException s ? s.field() : "sampler_options";
    }
}
