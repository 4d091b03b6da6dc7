package dev.sdcfg.sampler;

import java.util.List;
import java.util.Map;

/**
 * What {@code GET /v1/samplers} lists: a sampler name, the diffusers class it reproduces, the preset it applies on
 * top of the model's scheduler config, and the options a request may override.
 */
public record SamplerInfo(String name, String diffusersClass, String description, Map<String, Object> preset,
        boolean stochastic, List<Option> options) {

    /**
     * One configurable option.
     *
     * @param type {@code integer}, {@code number}, {@code boolean}, {@code string}, {@code number[]} or {@code integer[]}
     * @param defaultValue the diffusers class default (null when none)
     * @param allowed the accepted values of a string option (empty otherwise)
     */
    public record Option(String key, String type, Object defaultValue, List<String> allowed, String description) {
    }
}
