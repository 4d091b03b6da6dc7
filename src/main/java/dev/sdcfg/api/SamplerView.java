package dev.sdcfg.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonPropertyOrder;
import dev.sdcfg.sampler.SamplerInfo;

import java.util.List;
import java.util.Map;

/** One entry of GET /v1/samplers: the engine's {@link SamplerInfo} in the API's JSON names. */
@JsonPropertyOrder({"name", "diffusers_class", "description", "preset", "stochastic", "options"})
public record SamplerView(String name, @JsonProperty("diffusers_class") String diffusersClass, String description,
        Map<String, Object> preset, boolean stochastic, List<Option> options) {

    /** One option a request may set in sampler_options; {@code allowed} only for string options with a value list. */
    @JsonPropertyOrder({"key", "type", "default", "allowed", "description"})
    public record Option(String key, String type, @JsonProperty("default") Object defaultValue,
            @JsonInclude(JsonInclude.Include.NON_EMPTY) List<String> allowed, String description) {
    }

    static SamplerView of(SamplerInfo info) {
        return new SamplerView(info.name(), info.diffusersClass(), info.description(), info.preset(),
                info.stochastic(), info.options().stream()
                .map(o -> new Option(o.key(), o.type(), o.defaultValue(), o.allowed(), o.description())).toList());
    }
}
