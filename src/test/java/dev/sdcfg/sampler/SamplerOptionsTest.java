package dev.sdcfg.sampler;

import com.google.gson.JsonObject;
import org.junit.jupiter.api.Test;

import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BiFunction;
import java.util.stream.Collectors;

import static dev.sdcfg.sampler.SamplerBehaviourTest.json;
import static dev.sdcfg.sampler.SamplerBehaviourTest.sd;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Each sampler's options are declared once (OPTIONS) and that declaration feeds its constructor, the catalogue and the error's field. */
class SamplerOptionsTest {

    static final Map<String, Map.Entry<List<SamplerOption<?>>, BiFunction<String, SamplerConfig, ? extends Sampler>>> CLASSES = Map.ofEntries(
            Map.entry(LmsSampler.CLASS, Map.entry(LmsSampler.OPTIONS, LmsSampler::new)),
            Map.entry(EulerSampler.CLASS, Map.entry(EulerSampler.OPTIONS, EulerSampler::new)),
            Map.entry(EulerAncestralSampler.CLASS, Map.entry(EulerAncestralSampler.OPTIONS, EulerAncestralSampler::new)),
            Map.entry(HeunSampler.CLASS, Map.entry(HeunSampler.OPTIONS, HeunSampler::new)),
            Map.entry(DdimSampler.CLASS, Map.entry(DdimSampler.OPTIONS, DdimSampler::new)),
            Map.entry(PndmSampler.CLASS, Map.entry(PndmSampler.OPTIONS, PndmSampler::new)),
            Map.entry(DdpmSampler.CLASS, Map.entry(DdpmSampler.OPTIONS, DdpmSampler::new)),
            Map.entry(DpmSolverMultistepSampler.CLASS, Map.entry(DpmSolverMultistepSampler.OPTIONS, DpmSolverMultistepSampler::new)),
            Map.entry(UniPcSampler.CLASS, Map.entry(UniPcSampler.OPTIONS, UniPcSampler::new)),
            Map.entry(KDpm2Sampler.CLASS, Map.entry(KDpm2Sampler.OPTIONS, KDpm2Sampler::discrete)),
            Map.entry(KDpm2Sampler.ANCESTRAL_CLASS, Map.entry(KDpm2Sampler.OPTIONS, KDpm2Sampler::ancestral)),
            Map.entry(DeisMultistepSampler.CLASS, Map.entry(DeisMultistepSampler.OPTIONS, DeisMultistepSampler::new)),
            Map.entry(DpmSolverSinglestepSampler.CLASS, Map.entry(DpmSolverSinglestepSampler.OPTIONS, DpmSolverSinglestepSampler::new)));

    @Test
    void theConstructorReadsEveryDeclaredOptionAndTheCatalogueListsThem() {
        Set<String> classes = SamplerFactory.describe().stream().map(SamplerInfo::diffusersClass).collect(Collectors.toSet());
        assertEquals(classes, CLASSES.keySet());
        for (var e : CLASSES.entrySet()) {
            List<SamplerOption<?>> declared = e.getValue().getKey();
            SamplerConfig c = SamplerConfig.of(sd(), "test config", null, null, declared);
            e.getValue().getValue().apply("t", c).close();
            Set<String> expected = declared.stream().filter(o -> o.use != SamplerOption.Use.UNUSED).map(o -> o.key)
                    .collect(Collectors.toCollection(LinkedHashSet::new));
            assertEquals(expected, new LinkedHashSet<>(c.readKeys()), e.getKey() + ": declared options the constructor does not read");
            assertEquals(declared.size(), declared.stream().map(o -> o.key).distinct().count(), e.getKey() + ": a key declared twice");
            List<String> listed = declared.stream().filter(SamplerOption::listed).map(o -> o.key).toList();
            for (SamplerInfo info : SamplerFactory.describe()) {
                if (info.diffusersClass().equals(e.getKey())) {
                    assertEquals(listed, info.options().stream().map(SamplerInfo.Option::key).toList(), info.name());
                }
            }
        }
    }

    @Test
    void readingAnUndeclaredOptionIsAProgrammingError() {
        List<SamplerOption<?>> withoutEta = DdimSampler.OPTIONS.stream().filter(o -> !o.key.equals("eta")).toList();
        SamplerConfig c = SamplerConfig.of(sd(), "test config", null, null, withoutEta);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> new DdimSampler("ddim", c));
        assertTrue(e.getMessage().contains("'eta'"), e.getMessage());
    }

    @Test
    void hiddenOptionsAreReadFromTheModelConfigButNotListedOrAccepted() {
        // LMSDiscreteScheduler has no sigma_min argument; its exponential conversion reads the model's (hasattr)
        assertTrue(SamplerFactory.describe().stream().filter(i -> i.name().equals("lms")).findFirst().orElseThrow()
                .options().stream().noneMatch(o -> o.key().equals("sigma_min")));
        assertEquals("sampler_options.sigma_min", field("lms", sd(), "{\"sigma_min\": 1}"));
        JsonObject cfg = sd();
        cfg.addProperty("sigma_min", 1.0);
        try (Sampler with = SamplerFactory.create("lms", cfg, "model", json("{\"use_exponential_sigmas\": true}"));
             Sampler without = SamplerFactory.create("lms", sd(), "model", json("{\"use_exponential_sigmas\": true}"))) {
            with.setTimesteps(5);
            without.setTimesteps(5);
            assertEquals(1.0, with.sigmas()[4], 1e-6);
            assertTrue(without.sigmas()[4] < 0.1);
        }
    }

    static String field(String name, JsonObject config, String overrides) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> {
            try (Sampler s = SamplerFactory.create(name, config, "model/scheduler/scheduler_config.json",
                    overrides == null ? null : json(overrides))) {
                s.setTimesteps(150);
            }
        }, name + " " + overrides);
        return SamplerOptionException.fieldOf(e);
    }

    @Test
    void errorsNameTheRequestFieldAtFault() {
        assertEquals("sampler", field("nope", sd(), null));
        assertEquals("sampler_options.foo", field("euler", sd(), "{\"foo\": 1}"));
        assertEquals("sampler_options.timestep_spacing", field("euler", sd(), "{\"timestep_spacing\": 7}"));
        // the message is about beta_end (betas out of range); beta_start made them so
        assertEquals("sampler_options.beta_start", field("euler", sd(), "{\"beta_start\": 2}"));
        // several bad options: the field is the one the message names (the first read)
        assertEquals("sampler_options.beta_start", field("lms", sd(), "{\"prediction_type\": \"x\", \"beta_start\": \"x\"}"));
        // a bad value in the model's own config is the sampler's fault, unless a request option is itself unknown
        JsonObject broken = sd();
        broken.addProperty("beta_schedule", "quadratic");
        assertEquals("sampler", field("euler", broken, null));
        assertEquals("sampler_options.bogus", field("euler", broken, "{\"bogus\": 1}"));
        // combinations: the option the request changed from what it would otherwise be
        assertEquals("sampler_options.algorithm_type", field("dpmpp_2m", sd(), "{\"algorithm_type\": \"dpmsolver\"}"));
        assertEquals("sampler_options.algorithm_type",
                field("dpmpp_2m", sd(), "{\"final_sigmas_type\": \"zero\", \"algorithm_type\": \"dpmsolver\"}"));
        JsonObject dpmsolver = withKey("algorithm_type", "dpmsolver");
        dpmsolver.addProperty("final_sigmas_type", "sigma_min");
        assertEquals("sampler_options.final_sigmas_type", field("DPMSolverMultistepScheduler", dpmsolver, "{\"final_sigmas_type\": \"zero\"}"));
        // a request value equal to the one the model's config already has is not at fault: the config is
        assertEquals("sampler", field("DPMSolverMultistepScheduler", withKey("algorithm_type", "dpmsolver"), "{\"final_sigmas_type\": \"zero\"}"));
        assertEquals("sampler_options.use_exponential_sigmas", field("dpmpp_2m_karras", sd(), "{\"use_exponential_sigmas\": true}"));
        assertEquals("sampler_options.use_lu_lambdas",
                field("dpmpp_2m_karras", sd(), "{\"use_karras_sigmas\": true, \"use_lu_lambdas\": true}"));
        assertEquals("sampler_options", field("euler", sd(), "{\"use_karras_sigmas\": true, \"use_exponential_sigmas\": true}"));
        assertEquals("sampler_options", field("dpmpp_2m", sd(),
                "{\"algorithm_type\": \"sde-dpmsolver\", \"final_sigmas_type\": \"sigma_min\", \"solver_order\": 3}"));
        // a step count the options do not allow (setTimesteps)
        assertEquals("sampler_options", field("ddim", sd(), "{\"num_train_timesteps\": 100}"));
    }

    private static JsonObject withKey(String key, String value) {
        JsonObject o = sd();
        o.addProperty(key, value);
        return o;
    }

    @Test
    void messagesListTheAcceptedValuesAsTheCatalogueDoes() {
        assertMessage("dpmpp_2m", "{\"prediction_type\": \"x\"}", "must be one of epsilon, sample, v_prediction, got \"x\"");
        assertMessage("dpmpp_2m", "{\"prediction_type\": \"flow_prediction\"}", "flow_prediction is not supported (flow-matching models)");
        assertMessage("dpmpp_2m", "{\"algorithm_type\": \"x\"}", "one of dpmsolver++, dpmsolver, sde-dpmsolver++, sde-dpmsolver, deis, got");
        assertMessage("dpmpp_2s", "{\"algorithm_type\": \"x\"}", "one of dpmsolver++, dpmsolver, sde-dpmsolver++, deis, got");
        assertMessage("dpmpp_2s", "{\"algorithm_type\": \"sde-dpmsolver\"}", "is not implemented by diffusers' DPMSolverSinglestepScheduler");
        assertMessage("ddpm", "{\"variance_type\": \"x\"}", "one of fixed_small, fixed_small_log, fixed_large, got");
        assertMessage("ddpm", "{\"variance_type\": \"learned_range\"}", "learned_range is not supported (learned variances");
    }

    private static void assertMessage(String name, String overrides, String part) {
        SamplerOptionException e = assertThrows(SamplerOptionException.class,
                () -> SamplerFactory.create(name, sd(), "test config", json(overrides)));
        assertTrue(e.getMessage().contains(part), e.getMessage());
        String key = json(overrides).keySet().iterator().next();
        assertEquals("sampler_options." + key, e.field());
    }
}
