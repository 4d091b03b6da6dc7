package dev.sdcfg.guidance;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import dev.sdcfg.pipeline.InvalidRequestException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The spec parser: a corpus of invalid specs (each with the field path it must name) and valid round trips. */
class GuidanceSpecParserTest {

    /** Invalid at parse time: JSON text → the field the error must name. */
    static Stream<Arguments> invalid() {
        return Stream.of(
                Arguments.of("{\"normalizer\":\"supernorm\"}", "guidance.normalizer"),
                Arguments.of("{\"normalizer\":3}", "guidance.normalizer"),
                Arguments.of("{\"normalizer\":null}", "guidance.normalizer"),
                Arguments.of("{\"gamma\":2}", "guidance.gamma"),
                Arguments.of("{\"normalizer\":\"none\",\"phi\":0.5}", "guidance.phi"),
                Arguments.of("{\"normalizer\":\"tnorm\",\"zero_init_steps\":1}", "guidance.zero_init_steps"),
                Arguments.of("{\"g\":\"7.5\"}", "guidance.g"),
                Arguments.of("{\"g\":true}", "guidance.g"),
                Arguments.of("{\"g\":[]}", "guidance.g"),
                Arguments.of("{\"g\":[7.5,\"x\"]}", "guidance.g[1]"),
                Arguments.of("{\"zero_init_steps\":[1]}", "guidance.zero_init_steps"),
                Arguments.of("{\"g\":null}", "guidance.g"),
                Arguments.of("{\"g\":-1}", "guidance.g"),
                Arguments.of("{\"g\":1e400}", "guidance.g"),
                Arguments.of("{\"g\":-1e400}", "guidance.g"),
                Arguments.of("{\"g\":NaN}", "guidance.g"),
                Arguments.of("{\"g\":101}", "guidance.g"),
                Arguments.of("-2", "guidance"),
                Arguments.of("true", "guidance"),
                Arguments.of("[1,2]", "guidance"),
                Arguments.of("\"NoSuchPreset\"", "guidance"),
                Arguments.of("{\"g\":{\"max\":7.5,\"min\":1}}", "guidance.g.schedule"),
                Arguments.of("{\"g\":{\"schedule\":\"sawtooth\"}}", "guidance.g.schedule"),
                Arguments.of("{\"g\":{\"schedule\":7}}", "guidance.g.schedule"),
                Arguments.of("{\"g\":{\"schedule\":\"cosine\",\"max\":7.5}}", "guidance.g.min"),
                Arguments.of("{\"g\":{\"schedule\":\"cosine\",\"min\":0.15}}", "guidance.g.max"),
                Arguments.of("{\"g\":{\"schedule\":\"cosine\",\"max\":0.05,\"min\":0.25}}", "guidance.g.max"),
                Arguments.of("{\"g\":{\"schedule\":\"cosine\",\"max\":7.5,\"min\":-0.1}}", "guidance.g.min"),
                Arguments.of("{\"g\":{\"schedule\":\"cosine\",\"max\":\"7.5\",\"min\":0.1}}", "guidance.g.max"),
                Arguments.of("{\"g\":{\"schedule\":\"cosine\",\"max\":7.5,\"min\":0.1,\"maxx\":3}}", "guidance.g.maxx"),
                Arguments.of("{\"g\":{\"schedule\":\"cosine\",\"max\":7.5,\"min\":0.1,\"warmup\":1.5}}", "guidance.g.warmup"),
                Arguments.of("{\"g\":{\"schedule\":\"cosine\",\"max\":7.5,\"min\":0.1,\"warmup\":1}}", "guidance.g.warmup"),
                Arguments.of("{\"g\":{\"schedule\":\"cosine\",\"max\":7.5,\"min\":0.1,\"warmup\":-0.1}}", "guidance.g.warmup"),
                Arguments.of("{\"g\":{\"schedule\":\"cosine\",\"max\":7.5,\"min\":0.1,\"warmup\":0.1,\"warmup_start\":-1}}",
                        "guidance.g.warmup_start"),
                Arguments.of("{\"g\":{\"schedule\":\"cosine\",\"max\":7.5,\"min\":0.1,\"warmup_start\":1}}",
                        "guidance.g.warmup_start"),
                Arguments.of("{\"g\":{\"schedule\":\"linear\",\"from\":7.5}}", "guidance.g.to"),
                Arguments.of("{\"g\":{\"schedule\":\"linear\",\"from\":7.5,\"to\":-3}}", "guidance.g.to"),
                Arguments.of("{\"g\":{\"schedule\":\"power\",\"from\":7.5,\"to\":1,\"exponent\":0}}", "guidance.g.exponent"),
                Arguments.of("{\"g\":{\"schedule\":\"power\",\"from\":7.5,\"to\":1}}", "guidance.g.exponent"),
                Arguments.of("{\"g\":{\"schedule\":\"step\",\"before\":7.5,\"after\":1,\"at\":1.5}}", "guidance.g.at"),
                Arguments.of("{\"g\":{\"schedule\":\"array\",\"values\":[]}}", "guidance.g.values"),
                Arguments.of("{\"g\":{\"schedule\":\"array\",\"values\":7}}", "guidance.g.values"),
                Arguments.of("{\"g\":{\"schedule\":\"array\",\"values\":[1,\"2\",3]}}", "guidance.g.values[1]"),
                Arguments.of("{\"g\":{\"schedule\":\"array\",\"values\":[1,2,-3]}}", "guidance.g.values[2]"),
                Arguments.of("{\"g\":{\"schedule\":\"constant\",\"value\":200}}", "guidance.g.value"),
                Arguments.of("{\"normalizer\":\"rescale\",\"phi\":1.5}", "guidance.phi"),
                Arguments.of("{\"normalizer\":\"apg\",\"eta\":{\"schedule\":\"cosine\",\"max\":2,\"min\":0}}", "guidance.eta.max"),
                Arguments.of("{\"normalizer\":\"apg\",\"norm_threshold\":-1}", "guidance.norm_threshold"),
                Arguments.of("{\"normalizer\":\"apg\",\"momentum\":1.5}", "guidance.momentum"),
                Arguments.of("{\"normalizer\":\"cfg-zero-star\",\"zero_init_steps\":1.5}", "guidance.zero_init_steps"),
                Arguments.of("{\"normalizer\":\"cfg-zero-star\",\"zero_init_steps\":-1}", "guidance.zero_init_steps"),
                Arguments.of("{\"normalizer\":\"cfg-zero-star\",\"zero_init_steps\":{\"schedule\":\"constant\",\"value\":1}}",
                        "guidance.zero_init_steps"),
                Arguments.of("{\"interval\":0.5}", "guidance.interval"),
                Arguments.of("{\"interval\":{\"start\":-0.1}}", "guidance.interval.start"),
                Arguments.of("{\"interval\":{\"start\":1}}", "guidance.interval.start"),
                Arguments.of("{\"interval\":{\"end\":1.2}}", "guidance.interval.end"),
                Arguments.of("{\"interval\":{\"end\":0}}", "guidance.interval.end"),
                Arguments.of("{\"interval\":{\"start\":0.6,\"end\":0.3}}", "guidance.interval.end"),
                Arguments.of("{\"interval\":{\"start\":0.2,\"middle\":0.3}}", "guidance.interval.middle"),
                Arguments.of("{\"interval\":{\"start\":\"0.2\"}}", "guidance.interval.start"),
                Arguments.of("{\"preset\":\"FullNormGuidance_Sched_Linear\"}", "guidance.preset"),
                Arguments.of("{\"preset\":5}", "guidance.preset"),
                Arguments.of("{\"preset\":\"FullNormGuidance_Sched_TCos\",\"g\":{\"schedule\":\"cosine\",\"max\":0.05,\"min\":0.25}}",
                        "guidance.g.max"),
                Arguments.of("{\"preset\":\"CFGuidance_Sched_Cos\",\"phi\":0.7}", "guidance.phi"),
                Arguments.of("{\"preset\":\"CFGuidance_Sched_Cos\",\"normalizer\":\"zzz\"}", "guidance.normalizer"));
    }

    @ParameterizedTest
    @MethodSource("invalid")
    void rejectsWithTheFieldPath(String json, String field) {
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> GuidanceSpec.parse(json),
                () -> "accepted: " + json);
        assertEquals(field, e.field(), () -> json + " → " + e.getMessage());
        assertFalse(e.getMessage().isBlank());
    }

    @Test
    void corpusIsLarge() {
        assertTrue(invalid().count() >= 25);
    }

    /** Invalid only for a given step count: spec, steps, field. */
    static Stream<Arguments> invalidForSteps() {
        return Stream.of(
                Arguments.of("{\"g\":{\"schedule\":\"array\",\"values\":[7.5,5,2]}}", 4, "guidance.g"),
                Arguments.of("{\"g\":{\"schedule\":\"array\",\"values\":[7.5,5,2]}}", 2, "guidance.g"),
                Arguments.of("{\"g\":[7.5,5,2]}", 2, "guidance.g"),
                Arguments.of("{\"normalizer\":\"rescale\",\"phi\":{\"schedule\":\"array\",\"values\":[0.5]}}", 3, "guidance.phi"),
                Arguments.of("{\"normalizer\":\"cfg-zero-star\",\"zero_init_steps\":5}", 4, "guidance.zero_init_steps"),
                Arguments.of("7.5", 0, "steps"),
                Arguments.of("7.5", 1001, "steps"));
    }

    @ParameterizedTest
    @MethodSource("invalidForSteps")
    void stepDependentChecksComeLater(String json, int steps, String field) {
        GuidanceSpec spec = GuidanceSpec.parse(json); // parsing does not know the step count
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> spec.validateFor(steps));
        assertEquals(field, e.field(), e.getMessage());
        InvalidRequestException e2 = assertThrows(InvalidRequestException.class, () -> spec.plan(steps));
        assertEquals(field, e2.field());
    }

    @Test
    void errorPathsFollowTheGivenRoot() {
        InvalidRequestException e = assertThrows(InvalidRequestException.class,
                () -> GuidanceSpec.parse(JsonParser.parseString("{\"g\":{\"schedule\":\"cosine\",\"max\":1,\"min\":2}}"),
                        "configs[2].guidance"));
        assertEquals("configs[2].guidance.g.max", e.field());
    }

    @Test
    void nonFiniteNumbersBuiltInCodeAreRejected() {
        for (double bad : new double[] {Double.NaN, Double.POSITIVE_INFINITY, Double.NEGATIVE_INFINITY}) {
            JsonObject o = new JsonObject();
            o.add("g", new JsonPrimitive(bad));
            assertEquals("guidance.g", assertThrows(InvalidRequestException.class, () -> GuidanceSpec.parse(o)).field());
            JsonObject s = new JsonObject();
            s.addProperty("schedule", "array");
            JsonArray a = new JsonArray();
            a.add(1.0);
            a.add(bad);
            s.add("values", a);
            JsonObject o2 = new JsonObject();
            o2.add("g", s);
            assertEquals("guidance.g.values[1]", assertThrows(InvalidRequestException.class, () -> GuidanceSpec.parse(o2)).field());
        }
        assertEquals("guidance", assertThrows(InvalidRequestException.class,
                () -> GuidanceSpec.parse("{\"g\": 7.5,")).field());
    }

    // ------------------------------------------------------------------------------------------------ valid

    @ParameterizedTest
    @ValueSource(strings = {
        "7.5",
        "0",
        "{\"normalizer\":\"fullnorm\",\"g\":{\"schedule\":\"cosine\",\"max\":0.25,\"min\":0.05}}",
        "{\"g\":{\"schedule\":\"cosine\",\"max\":7.5,\"min\":0.15,\"warmup\":0.1,\"warmup_start\":0.15}}",
        "{\"g\":{\"schedule\":\"cosine\",\"max\":7.5,\"min\":0.15,\"warmup\":0.2}}",
        "{\"g\":{\"schedule\":\"array\",\"values\":[7.5,6,4.5,3]}}",
        "{\"g\":{\"schedule\":\"linear\",\"from\":1,\"to\":9}}",
        "{\"g\":{\"schedule\":\"power\",\"from\":9,\"to\":1,\"exponent\":2.5}}",
        "{\"g\":{\"schedule\":\"step\",\"before\":9,\"after\":1,\"at\":0.25}}",
        "{\"g\":{\"schedule\":\"constant\",\"value\":3}}",
        "{\"normalizer\":\"basenorm\",\"g\":7.5,\"interval\":{\"start\":0.0,\"end\":0.6}}",
        "{\"normalizer\":\"tnorm\",\"interval\":{\"start\":0.1}}",
        "{\"normalizer\":\"rescale\",\"g\":7.5,\"phi\":{\"schedule\":\"linear\",\"from\":0,\"to\":1}}",
        "{\"normalizer\":\"apg\",\"g\":7.5,\"eta\":0,\"norm_threshold\":{\"schedule\":\"step\",\"before\":15,\"after\":0,\"at\":0.5},"
                + "\"momentum\":-0.5}",
        "{\"normalizer\":\"cfg-zero-star\",\"g\":5,\"zero_init_steps\":1}",
        "{\"normalizer\":\"CFG-Zero-Star\"}",
        "{\"preset\":\"FullNormGuidance_Sched_TCos\"}",
        "\"CFGuidance_Sched_CosWarmup\"",
        "{\"preset\":\"CFGuidance_Sched_Cos\",\"interval\":{\"start\":0,\"end\":0.6}}",
        "{\"preset\":\"TNorm_FixedG_0.15\",\"normalizer\":\"fullnorm\"}",
        "null",
        ""
    })
    void validSpecsRoundTripThroughToJson(String json) {
        GuidanceSpec spec = GuidanceSpec.parse(json);
        JsonObject canonical = spec.toJson();
        GuidanceSpec again = GuidanceSpec.parse(canonical);
        assertEquals(spec, again);
        assertEquals(canonical, again.toJson(), "canonical JSON is a fixed point");
        assertEquals(spec.label(), again.label());
        assertEquals(spec.toString(), GuidanceSpec.parse(canonical.toString()).toString());
        assertTrue(canonical.has("normalizer"));
        for (Param p : spec.normalizer().params()) {
            assertTrue(canonical.has(p.name()), "canonical form lists every parameter: " + canonical);
        }
        assertFalse(spec.label().isBlank());
        spec.validateFor(4);
    }

    @Test
    void canonicalFormsAndLabels() {
        assertEquals("{\"normalizer\":\"none\",\"g\":7.5}", GuidanceSpec.parse("7.5").toJson().toString());
        assertEquals("CFG g=7.5", GuidanceSpec.parse("7.5").label());
        assertSame(GuidanceSpec.DEFAULT, GuidanceSpec.parse((String) null));
        assertSame(GuidanceSpec.DEFAULT, GuidanceSpec.parse(JsonNull.INSTANCE));
        assertEquals(GuidanceSpec.DEFAULT, GuidanceSpec.parse("{}"));

        GuidanceSpec fn = GuidanceSpec.parse("{\"normalizer\":\"fullnorm\",\"g\":{\"schedule\":\"cosine\",\"max\":0.25,\"min\":0.05}}");
        assertEquals("{\"normalizer\":\"fullnorm\",\"g\":{\"schedule\":\"cosine\",\"max\":0.25,\"min\":0.05}}", fn.toJson().toString());
        assertEquals("FullNorm g=cos(0.25→0.05)", fn.label());
        assertEquals(GuidancePresets.spec("FullNormGuidance_Sched_TCos"), fn, "same guidance as the preset");

        GuidanceSpec preset = GuidanceSpec.parse("{\"preset\":\"FullNormGuidance_Sched_TCos\"}");
        assertEquals("FullNormGuidance_Sched_TCos", preset.label());
        assertEquals("FullNormGuidance_Sched_TCos", preset.preset());
        assertEquals("{\"preset\":\"FullNormGuidance_Sched_TCos\",\"normalizer\":\"fullnorm\",\"g\":{\"schedule\":\"cosine\","
                + "\"max\":0.25,\"min\":0.05}}", preset.toJson().toString());

        GuidanceSpec over = GuidanceSpec.parse("{\"preset\":\"CFGuidance_Sched_CosWarmup\",\"interval\":{\"end\":0.6}}");
        assertEquals(Schedule.cosine(7.5, 0.15, 0.1, 0.15), over.param("g"));
        assertEquals(new Interval(0, 0.6), over.interval());
        assertEquals("CFG g=cos(7.5→0.15, warmup 10% from 0.15) [0%–60%)", over.label());
        assertNotEquals(GuidancePresets.spec("CFGuidance_Sched_CosWarmup"), over);

        GuidanceSpec apg = GuidanceSpec.parse("{\"normalizer\":\"apg\",\"eta\":0,\"momentum\":-0.5}");
        assertEquals("{\"normalizer\":\"apg\",\"g\":7.5,\"eta\":0,\"norm_threshold\":15,\"momentum\":-0.5}", apg.toJson().toString());
        assertEquals("APG g=7.5 η=0 thr=15 β=-0.5", apg.label());

        GuidanceSpec tnorm = GuidanceSpec.parse("{\"normalizer\":\"tnorm\"}");
        assertEquals(Schedule.constant(0.15), tnorm.param("g"), "tnorm's g is a fraction of ‖u‖; its default is the notebook's");
    }

    @Test
    void builtInCodeSpecsAreValidatedToo() {
        GuidanceSpec s = GuidanceSpec.of(Normalizer.RESCALE, Map.of("phi", Schedule.linear(0, 1)), new Interval(0.1, 0.9));
        assertEquals(Schedule.constant(7.5), s.param("g"));
        assertEquals("guidance.phi.to", assertThrows(InvalidRequestException.class,
                () -> GuidanceSpec.of(Normalizer.RESCALE, Map.of("phi", Schedule.linear(0, 2)), null)).field());
        assertEquals("guidance.eta", assertThrows(InvalidRequestException.class,
                () -> GuidanceSpec.of(Normalizer.NONE, Map.of("eta", Schedule.constant(1)), null)).field());
    }

    @Test
    void catalogDescribesEverything() {
        Map<String, Object> c = GuidanceCatalog.describe();
        List<?> normalizers = (List<?>) c.get("normalizers");
        assertEquals(Normalizer.values().length, normalizers.size());
        Map<?, ?> apg = (Map<?, ?>) normalizers.stream().filter(n -> "apg".equals(((Map<?, ?>) n).get("name"))).findFirst().orElseThrow();
        List<?> params = (List<?>) apg.get("parameters");
        assertEquals(List.of("g", "eta", "norm_threshold", "momentum"), params.stream().map(p -> ((Map<?, ?>) p).get("name")).toList());
        Map<?, ?> momentum = (Map<?, ?>) params.get(3);
        assertEquals(-1L, momentum.get("min"));
        assertEquals(1L, momentum.get("max"));
        assertEquals(0L, momentum.get("default"));
        assertEquals(true, momentum.get("schedulable"));

        List<?> schedules = (List<?>) c.get("schedules");
        assertEquals(List.of("constant", "cosine", "linear", "power", "step", "array"),
                schedules.stream().map(s -> ((Map<?, ?>) s).get("schedule")).toList());
        assertTrue(((Map<?, ?>) ((Map<?, ?>) schedules.get(1)).get("fields")).containsKey("warmup_start"));

        List<?> presets = (List<?>) c.get("presets");
        assertEquals(List.copyOf(GuidancePresets.names()), presets.stream().map(p -> ((Map<?, ?>) p).get("name")).toList());
        Map<?, ?> tcos = (Map<?, ?>) presets.get(5);
        assertEquals("FullNormGuidance_Sched_TCos", tcos.get("name"));
        assertEquals(Map.of("normalizer", "fullnorm", "g", Map.of("schedule", "cosine", "max", 0.25, "min", 0.05)), tcos.get("spec"));

        // every preset and example in the catalog parses
        for (Object p : presets) {
            GuidanceSpec.parse(toGson(((Map<?, ?>) p).get("spec")));
        }
        for (Object ex : (List<?>) c.get("examples")) {
            GuidanceSpec.parse(toGson(ex));
        }
    }

    private static JsonElement toGson(Object o) {
        return new com.google.gson.Gson().toJsonTree(o);
    }
}
