package dev.sdcfg.pipeline;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.guidance.GuidanceSpec;
import dev.sdcfg.pipeline.image.Infotext;
import dev.sdcfg.pipeline.prompt.PromptSyntax;
import dev.sdcfg.testutil.ExtraGoldens;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Infotext against A1111's own {@code parse_generation_parameters} ({@code parity-extra/a1111/infotext.json},
 * tools/a1111-goldens): for each written case, {@link GenerationInfotext#write} must still give the golden's text,
 * A1111 must have read from it exactly what {@link Infotext#parse} reads (prompt, negative prompt, every key and
 * value), and the request rebuilt from it must be the case's request (same prompts, size, steps, seed, sampler or
 * the model's own, guidance, sampler options, prompt syntax). For infotexts as A1111 writes them, {@link Infotext#parse}
 * must read what A1111 reads.
 */
class GenerationInfotextParityTest {

    @TestFactory
    List<DynamicTest> infotexts() throws IOException {
        JsonObject root = JsonParser.parseString(Files.readString(ExtraGoldens.root("a1111").resolve("infotext.json"),
                StandardCharsets.UTF_8)).getAsJsonObject();
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonElement e : root.getAsJsonArray("written")) {
            JsonObject c = e.getAsJsonObject();
            tests.add(DynamicTest.dynamicTest("written " + c.get("name").getAsString(), () -> written(c)));
        }
        int i = 0;
        for (JsonElement e : root.getAsJsonArray("a1111_examples")) {
            JsonObject c = e.getAsJsonObject();
            tests.add(DynamicTest.dynamicTest("a1111 example " + i++, () -> readsAsA1111(c.get("text").getAsString(),
                    c.getAsJsonObject("a1111"))));
        }
        assertTrue(tests.size() >= 8);
        return tests;
    }

    private static void written(JsonObject c) {
        String negative = c.get("negative_prompt").getAsString();
        String sampler = c.get("sampler").isJsonNull() ? null : c.get("sampler").getAsString();
        SamplerOverrides options = c.has("sampler_options")
                ? SamplerOverrides.parse(c.get("sampler_options").getAsString()) : SamplerOverrides.NONE;
        PromptSyntax syntax = c.has("prompt_syntax") ? PromptSyntax.of(c.get("prompt_syntax").getAsString())
                : PromptSyntax.A1111;
        GenerationRequest r = new GenerationRequest(c.get("prompt").getAsString(), negative, c.get("width").getAsInt(),
                c.get("height").getAsInt(), c.get("steps").getAsInt(), sampler, options,
                GuidanceSpec.parse(c.get("guidance").getAsString()), c.get("seed").getAsLong(), 1, syntax);
        String defaultSampler = c.get("default_sampler").getAsString();
        String text = GenerationInfotext.write(r, r.seed(), c.get("model").getAsString(),
                c.get("model_hash").isJsonNull() ? null : c.get("model_hash").getAsString(), defaultSampler,
                c.get("clip_skip").getAsInt());
        assertEquals(c.get("text").getAsString(), text, "the infotext written (regenerate the golden if intended)");
        Infotext.Parsed parsed = readsAsA1111(text, c.getAsJsonObject("a1111"));

        JsonObject body = GenerationInfotext.request(parsed, defaultSampler).body();
        assertEquals(r.prompt(), body.get("prompt").getAsString());
        assertEquals(negative, body.has("negative_prompt") ? body.get("negative_prompt").getAsString() : "");
        assertEquals(r.width(), body.get("width").getAsInt());
        assertEquals(r.height(), body.get("height").getAsInt());
        assertEquals(r.steps(), body.get("steps").getAsInt());
        assertEquals(r.seed(), body.get("seed").getAsLong());
        if (sampler == null) {
            assertNull(body.get("sampler"), "the model's own sampler stays the default");
        } else {
            assertEquals(sampler, body.get("sampler").getAsString());
        }
        assertEquals(r.guidance().canonicalJson(), GuidanceSpec.parse(body.get("guidance")).canonicalJson());
        assertEquals(r.samplerOptions().canonicalJson(), body.has("sampler_options")
                ? SamplerOverrides.of(body.getAsJsonObject("sampler_options")).canonicalJson()
                : SamplerOverrides.NONE.canonicalJson());
        assertEquals(syntax.value(), body.has("prompt_syntax") ? body.get("prompt_syntax").getAsString() : "a1111");
        assertEquals(1, body.get("n").getAsInt());
    }

    /** Infotext.parse reads the prompts and every key: value of the text as A1111 did. */
    private static Infotext.Parsed readsAsA1111(String text, JsonObject a1111) {
        Infotext.Parsed p = Infotext.parse(text);
        assertEquals(a1111.get("Prompt").getAsString(), p.prompt());
        assertEquals(a1111.get("Negative prompt").getAsString(), p.negativePrompt());
        assertTrue(p.params().size() >= 3 || text.indexOf('\n') < 0, "parameters line read: " + p.params());
        for (Map.Entry<String, String> kv : p.params().entrySet()) {
            assertTrue(a1111.has(kv.getKey()), "A1111 did not read key " + kv.getKey());
            assertEquals(a1111.get(kv.getKey()).getAsString(), kv.getValue(), kv.getKey());
        }
        return p;
    }
}
