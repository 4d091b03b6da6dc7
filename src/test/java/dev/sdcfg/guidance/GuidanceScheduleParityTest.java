package dev.sdcfg.guidance;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** guidance_schedules.json (timm CosineLRScheduler values) against our schedules and the notebook presets. */
class GuidanceScheduleParityTest {

    private static final double TOL = 1e-12;
    private static final Pattern KEY = Pattern.compile("(cos|cos_warmup|tcos)_(\\d+)");

    /** The presets whose g schedule each golden series is. */
    private static final Map<String, List<String>> PRESETS = Map.of(
            "cos", List.of("CFGuidance_Sched_Cos", "BaseNormGuidance_Sched_Cos"),
            "cos_warmup", List.of("CFGuidance_Sched_CosWarmup", "BaseNormGuidance_Sched_CosWarmup"),
            "tcos", List.of("TNormGuidance_Sched_TCos", "FullNormGuidance_Sched_TCos"));

    private static JsonObject golden() throws IOException {
        return JsonParser.parseString(Files.readString(Fixtures.golden().resolve("guidance_schedules.json"))).getAsJsonObject();
    }

    private static Schedule direct(String series) {
        return switch (series) {
            // CosineLRScheduler(lr=7.5, t_initial=N, lr_min=0.15)
            case "cos" -> Schedule.cosine(7.5, 0.15);
            // ... warmup_t=int(N*0.1), warmup_lr_init=0.15
            case "cos_warmup" -> Schedule.cosine(7.5, 0.15, 0.1, 0.15);
            case "tcos" -> Schedule.cosine(0.25, 0.05);
            default -> throw new AssertionError(series);
        };
    }

    @Test
    void theCallIsTheOneWeModel() throws IOException {
        String call = golden().get("_call").getAsString();
        assertTrue(call.contains("CosineLRScheduler("), call);
        assertTrue(call.contains("t_initial=num_steps"), call);
        assertTrue(call.contains("lr_min=min"), call);
        assertTrue(call.contains("warmup_t=int(num_steps*warmup_fact)"), call);
        assertTrue(call.contains("warmup_lr_init=warmup_init"), call);
        assertTrue(!call.contains("warmup_prefix"), "warmup_prefix is left at timm's default False: " + call);
        assertTrue(call.contains("get_epoch_values(step) for step in range(num_steps)"), call);
    }

    @Test
    void schedulesAndPresetsMatchTimm() throws IOException {
        int series = 0;
        double worst = 0;
        for (Map.Entry<String, JsonElement> e : golden().entrySet()) {
            if (e.getKey().startsWith("_")) {
                continue;
            }
            Matcher m = KEY.matcher(e.getKey());
            assertTrue(m.matches(), "golden series '" + e.getKey() + "' is not understood by this test");
            String kind = m.group(1);
            int steps = Integer.parseInt(m.group(2));
            JsonArray a = e.getValue().getAsJsonArray();
            assertEquals(steps, a.size(), e.getKey());
            double[] ref = new double[steps];
            for (int i = 0; i < steps; i++) {
                ref[i] = a.get(i).getAsDouble();
            }
            worst = Math.max(worst, check(e.getKey() + " direct", direct(kind).values(steps), ref));
            for (String preset : PRESETS.get(kind)) {
                GuidanceSpec spec = GuidancePresets.spec(preset);
                assertNotNull(spec);
                try (GuidancePlan plan = spec.plan(steps)) {
                    worst = Math.max(worst, check(e.getKey() + " " + preset, plan.values("g"), ref));
                    for (int i = 0; i < steps; i++) {
                        assertTrue(plan.needsUnconditional(i));
                        assertEquals(plan.values("g")[i], plan.value("g", i), 0.0);
                    }
                }
            }
            series++;
        }
        System.out.printf(Locale.ROOT, "guidance_schedules.json: %d series, worst |diff| %.3e%n", series, worst);
        assertEquals(6, series);
    }

    private static double check(String what, double[] ours, double[] ref) {
        assertEquals(ref.length, ours.length, what);
        double worst = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = Math.abs(ours[i] - ref[i]);
            assertTrue(d <= TOL, what + " step " + i + ": " + ours[i] + " vs timm " + ref[i]);
            worst = Math.max(worst, d);
        }
        return worst;
    }

    @Test
    void warmupSkipsThePeakAsTheNotebookDoes() {
        double[] v = Schedule.cosine(7.5, 0.15, 0.1, 0.15).values(50);
        assertEquals(6.03, v[4], 1e-12);
        assertEquals(0.15 + 0.5 * 7.35 * (1 + Math.cos(Math.PI * 5 / 50)), v[5], 1e-12);
        assertTrue(v[5] < 7.5, "the cosine is not shifted by the warmup (warmup_prefix=False)");
    }

    @Test
    void fixedPresetsAreConstants() {
        Map<String, Object[]> fixed = Map.of(
                "NoNorm_FixedG_7.50", new Object[] {Normalizer.NONE, 7.5},
                "BaseNorm_FixedG_7.50", new Object[] {Normalizer.BASENORM, 7.5},
                "TNorm_FixedG_0.15", new Object[] {Normalizer.TNORM, 0.15},
                "FullNorm_FixedG_0.15", new Object[] {Normalizer.FULLNORM, 0.15});
        fixed.forEach((name, want) -> {
            GuidanceSpec s = GuidancePresets.spec(name);
            assertEquals(want[0], s.normalizer(), name);
            assertEquals(Schedule.constant((Double) want[1]), s.param("g"), name);
            assertTrue(s.interval().isAll(), name);
            assertEquals(name, s.label());
        });
        assertEquals(Normalizer.FULLNORM, GuidancePresets.spec("FullNormGuidance_Sched_TCos").normalizer());
        assertEquals(Normalizer.TNORM, GuidancePresets.spec("TNormGuidance_Sched_TCos").normalizer());
        assertEquals(Normalizer.NONE, GuidancePresets.spec("CFGuidance_Sched_Cos").normalizer());
        assertEquals(Normalizer.BASENORM, GuidancePresets.spec("BaseNormGuidance_Sched_CosWarmup").normalizer());
    }

    @Test
    void presetsAreTheNotebooksTenExperiments() throws IOException {
        JsonObject notes = JsonParser.parseString(Files.readString(Fixtures.golden().resolve("pipeline_notes.json")))
                .getAsJsonObject();
        List<String> names = notes.getAsJsonArray("experiments").asList().stream().map(JsonElement::getAsString).toList();
        assertEquals(names, List.copyOf(GuidancePresets.names()));
    }

    @Test
    void otherSchedules() {
        assertEquals(List.of(7.0, 5.0, 3.0, 1.0), box(Schedule.linear(7, 1).values(4)));
        double[] p = Schedule.power(0, 8, 2).values(5);
        assertEquals(List.of(0.0, 0.5, 2.0, 4.5, 8.0), box(p));
        assertEquals(List.of(7.5, 7.5, 7.5, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0), box(Schedule.step(7.5, 2, 0.3).values(10)));
        assertEquals(List.of(1.0, 2.0, 3.0), box(Schedule.array(1, 2, 3).values(3)));
        assertEquals(List.of(4.0, 4.0), box(Schedule.constant(4).values(2)));
        assertEquals(List.of(3.0), box(Schedule.linear(3, 9).values(1)));
    }

    private static List<Double> box(double[] v) {
        return java.util.Arrays.stream(v).boxed().toList();
    }
}
