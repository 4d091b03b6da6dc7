package dev.sdcfg.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sdcfg.jobs.ServiceConfig;
import org.junit.jupiter.api.Test;

import java.lang.reflect.Proxy;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Validator rules that the default limits cannot reach through HTTP (max-pixels is max-size² there), checked on
 * the validator itself with smaller limits.
 */
class RequestValidatorTest {

    static final ObjectMapper JSON = new ObjectMapper();

    static RequestValidator validator(long maxPixels) {
        Map<String, Object> limits = Map.of("maxPromptChars", 2000, "maxN", 4, "maxSteps", 150, "minSize", 64,
                "maxSize", 1024, "maxPixels", maxPixels, "maxExperimentSpecs", 12, "maxSpecChars", 16384);
        Map<String, Object> defaults = Map.of("steps", 25, "size", Optional.of("64x64"));
        ServiceConfig.Limits l = proxy(ServiceConfig.Limits.class, limits);
        ServiceConfig.Defaults d = proxy(ServiceConfig.Defaults.class, defaults);
        RequestValidator v = new RequestValidator();
        v.config = proxy(ServiceConfig.class, Map.of("limits", l, "defaults", d));
        v.json = JSON;
        return v;
    }

    @SuppressWarnings("unchecked")
    static <T> T proxy(Class<T> type, Map<String, Object> values) {
        return (T) Proxy.newProxyInstance(type.getClassLoader(), new Class<?>[] {type}, (p, m, args) -> {
            if (!values.containsKey(m.getName())) {
                throw new UnsupportedOperationException(m.getName());
            }
            return values.get(m.getName());
        });
    }

    static ImageGenerationRequest request(String size, Integer width, Integer height, String guidance) throws Exception {
        return new ImageGenerationRequest("a cat", null, null, size, width, height, null, 1L, 2, null, null,
                guidance == null ? null : JSON.readTree(guidance), null, null, null, null);
    }

    static List<FieldError> errors(RequestValidator v, ImageGenerationRequest r) {
        ProblemException e = assertThrows(ProblemException.class, () -> v.generation(r));
        assertEquals(400, e.status());
        return e.errors();
    }

    @Test
    void pixelsBeyondTheConfiguredMaximumAreRefusedEvenWhenEachSideIsAllowed() throws Exception {
        RequestValidator v = validator(512 * 512);
        assertEquals(List.of(new FieldError("size", "1024x512 exceeds 262144 pixels (sd.limits.max-pixels)")),
                errors(v, request("1024x512", null, null, null)));
        assertEquals(List.of(new FieldError("width", "520x512 exceeds 262144 pixels (sd.limits.max-pixels)")),
                errors(v, request(null, 520, 512, null)));
        // exactly at the limit is fine
        assertEquals(512, v.generation(request("512x512", null, null, null)).request().width());
    }

    @Test
    void nonFiniteNumbersAnywhereInGuidanceOrSamplerOptionsAreNamed() throws Exception {
        RequestValidator v = validator(1 << 20);
        List<FieldError> e = errors(v, request(null, null, null,
                "{\"g\": {\"schedule\": \"cosine\", \"max\": 1e400, \"min\": -1e999}, \"interval\": {\"start\": 0}}"));
        assertEquals(List.of("guidance.g.max", "guidance.g.min"), e.stream().map(FieldError::field).toList());
        assertEquals(List.of("guidance.g[1]"), errors(v, request(null, null, null, "{\"g\": [7, 1e400]}")).stream()
                .map(FieldError::field).toList());
        ImageGenerationRequest opts = new ImageGenerationRequest("a", null, null, null, null, null, null, 1L, 2,
                "euler", JSON.readTree("{\"beta_start\": 1e400}"), null, null, null, null, null);
        assertEquals(List.of("sampler_options.beta_start"), errors(v, opts).stream().map(FieldError::field).toList());
        // tiny numbers round to zero like any double; the spec parser judges the value
        assertEquals("{\"normalizer\":\"none\",\"g\":0}",
                v.generation(request(null, null, null, "1e-400")).request().guidance().canonicalJson());
    }

    @Test
    void integerRulesForParseFailures() {
        RequestValidator v = validator(1 << 20);
        assertEquals(Optional.of("an integer between 1 and 150"), v.integerRule("steps"));
        assertEquals(Optional.of("an integer between 0 and 9007199254740991 (2^53-1)"), v.integerRule("seed"));
        assertEquals(Optional.of("an integer, a multiple of 8 within 64..1024"), v.integerRule("height"));
        assertEquals(Optional.empty(), v.integerRule("prompt"));
    }
}
