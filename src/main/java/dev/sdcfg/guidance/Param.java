package dev.sdcfg.guidance;

/**
 * One parameter of a normalizer, as a request names it ({@code g}, {@code phi}, {@code eta}…).
 *
 * @param name         the JSON key
 * @param symbol       short form for labels (g, φ, η…)
 * @param description  what it does
 * @param min          smallest allowed value (inclusive)
 * @param max          largest allowed value (inclusive)
 * @param defaultValue value used when the request leaves it out
 * @param schedulable  whether it may be given as a schedule object (otherwise a number)
 * @param integer      whether only whole numbers are allowed
 */
public record Param(String name, String symbol, String description, double min, double max, double defaultValue,
                   boolean schedulable, boolean integer) {

    static Param scheduled(String name, String symbol, String description, double min, double max, double def) {
        return new Param(name, symbol, description, min, max, def, true, false);
    }

    static Param wholeNumber(String name, String symbol, String description, int min, int max, int def) {
        return new Param(name, symbol, description, min, max, def, false, true);
    }

    /** Whether {@code v} lies in [min, max] (NaN never does). */
    public boolean inRange(double v) {
        return v >= min && v <= max;
    }

    /** "between 0 and 100" (for error messages). */
    String rangeText() {
        return "between " + Schedule.fmt(min) + " and " + Schedule.fmt(max);
    }
}
