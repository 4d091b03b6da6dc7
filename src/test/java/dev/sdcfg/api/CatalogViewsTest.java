package dev.sdcfg.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sdcfg.pipeline.ModelInfo;
import dev.sdcfg.sampler.SamplerFactory;
import dev.sdcfg.sampler.SamplerInfo;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The engine's catalogue records in the API's JSON names (GET /v1/samplers, GET /v1/models). */
class CatalogViewsTest {

    static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void samplersKeepTheirJsonNamesAndOrder() {
        List<SamplerInfo> infos = SamplerFactory.describe();
        JsonNode all = JSON.valueToTree(infos.stream().map(SamplerView::of).toList());
        assertEquals(infos.size(), all.size());
        for (int i = 0; i < infos.size(); i++) {
            SamplerInfo info = infos.get(i);
            JsonNode s = all.get(i);
            assertEquals(List.of("name", "diffusers_class", "description", "preset", "stochastic", "options"), names(s));
            assertEquals(info.name(), s.get("name").asText());
            assertEquals(info.diffusersClass(), s.get("diffusers_class").asText());
            assertEquals(info.stochastic(), s.get("stochastic").asBoolean());
            assertEquals(JSON.valueToTree(info.preset()), s.get("preset"));
            for (int k = 0; k < info.options().size(); k++) {
                SamplerInfo.Option o = info.options().get(k);
                JsonNode j = s.get("options").get(k);
                List<String> expected = o.allowed().isEmpty() ? List.of("key", "type", "default", "description")
                        : List.of("key", "type", "default", "allowed", "description");
                assertEquals(expected, names(j), info.name() + "." + o.key());
                assertEquals(JSON.valueToTree(o.defaultValue()), j.get("default"), info.name() + "." + o.key());
            }
        }
        assertTrue(all.findValues("allowed").size() > 0, "some string options list their values");
    }

    @Test
    void modelFactsKeepTheirJsonNames() {
        ModelInfo info = new ModelInfo("sd15", null, "gpu(0)", "float16", 512, 8, 4, 768, 77, "PNDMScheduler",
                "epsilon", 0, 2);
        Map<String, Object> facts = CatalogResource.facts(info);
        assertEquals(List.of("id", "path", "device", "dtype", "native_size", "vae_scale_factor", "latent_channels",
                "text_hidden_size", "max_prompt_tokens", "default_sampler", "prediction_type", "clip_skip",
                "attention_slice_size", "family"), List.copyOf(facts.keySet()));
        assertEquals("sd1", facts.get("family"));
        assertEquals(512, facts.get("native_size"));
        assertTrue(facts.containsKey("path"), "an assembled pipeline reports path null");
        assertFalse(JSON.valueToTree(facts).get("path").isMissingNode());
    }

    private static List<String> names(JsonNode o) {
        List<String> out = new ArrayList<>();
        o.fieldNames().forEachRemaining(out::add);
        return out;
    }
}
