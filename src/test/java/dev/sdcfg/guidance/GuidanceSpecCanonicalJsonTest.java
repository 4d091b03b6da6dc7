package dev.sdcfg.guidance;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The canonical JSON text of a spec (what a job echoes, PNG text holds and a stored request keeps) reads back to the
 * same spec: same text, same preset, same label, and bit-identical schedule values at every step of a run.
 */
class GuidanceSpecCanonicalJsonTest {

    private static final int STEPS = 7;

    @ParameterizedTest
    @ValueSource(strings = {
        "7.5",
        "0",
        "-0.0",
        "0.30000000000000004",
        "0.3333333333333333",
        "4.9E-324",
        "99.99999999999999",
        "7.000000000000001",
        "98.76543210987654",
        "{\"normalizer\":\"apg\",\"norm_threshold\":987.6543210987654}",
        "{\"g\":{\"schedule\":\"array\",\"values\":[0.1,0.30000000000000004,1e-300,4.9E-324,99.99999999999999,"
                + "7.000000000000001,0]}}",
        "{\"g\":[0.1,0.2,0.3,0.4,0.5,0.6,0.7]}",
        "{\"g\":{\"schedule\":\"cosine\",\"max\":7.5,\"min\":0.15,\"warmup\":0.1,\"warmup_start\":0.15}}",
        "{\"g\":{\"schedule\":\"cosine\",\"max\":7.500000000000001,\"min\":0.1499999999999999,\"warmup\":0.3333333333333333}}",
        "{\"g\":{\"schedule\":\"power\",\"from\":9,\"to\":1,\"exponent\":2.718281828459045}}",
        "{\"g\":{\"schedule\":\"step\",\"before\":9,\"after\":1,\"at\":0.14285714285714285}}",
        "{\"g\":{\"schedule\":\"linear\",\"from\":1e-7,\"to\":1e2}}",
        "{\"normalizer\":\"basenorm\",\"g\":7.5,\"interval\":{\"start\":0.1,\"end\":0.7000000000000001}}",
        "{\"normalizer\":\"rescale\",\"g\":7.5,\"phi\":{\"schedule\":\"linear\",\"from\":0,\"to\":0.7}}",
        "{\"normalizer\":\"apg\",\"g\":5,\"eta\":0,\"momentum\":-0.5,"
                + "\"norm_threshold\":{\"schedule\":\"step\",\"before\":15,\"after\":0,\"at\":0.5}}",
        "{\"normalizer\":\"cfg-zero-star\",\"g\":5,\"zero_init_steps\":1}",
        "{\"preset\":\"FullNormGuidance_Sched_TCos\"}",
        "\"CFGuidance_Sched_CosWarmup\"",
        "{\"preset\":\"CFGuidance_Sched_Cos\",\"interval\":{\"start\":0,\"end\":0.6}}",
        "{\"preset\":\"TNorm_FixedG_0.15\",\"normalizer\":\"fullnorm\",\"g\":0.2}",
        ""
    })
    void canonicalTextReadsBackIdentically(String json) {
        GuidanceSpec spec = GuidanceSpec.parse(json);
        String canonical = spec.canonicalJson();
        GuidanceSpec again = GuidanceSpec.parse(canonical);

        assertEquals(canonical, again.canonicalJson(), "canonical text is a fixed point");
        assertEquals(spec, again);
        assertEquals(spec.preset(), again.preset());
        assertEquals(spec.label(), again.label());
        assertEquals(spec.normalizer(), again.normalizer());
        assertEquals(spec.interval(), again.interval());
        assertEquals(spec.params().keySet(), again.params().keySet());
        for (Map.Entry<String, Schedule> e : spec.params().entrySet()) {
            Schedule theirs = again.param(e.getKey());
            for (int i = 0; i < STEPS; i++) {
                assertEquals(Double.doubleToRawLongBits(e.getValue().value(i, STEPS)),
                        Double.doubleToRawLongBits(theirs.value(i, STEPS)),
                        json + ": " + e.getKey() + " at step " + i + " of " + STEPS);
            }
        }
    }
}
