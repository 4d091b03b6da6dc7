package dev.sdcfg.pipeline.prompt;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.testutil.ExtraGoldens;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link PromptAttention} against A1111's own {@code parse_prompt_attention} on the corpus of
 * {@code parity-extra/a1111/attention_corpus.json} (tools/a1111-goldens): weights must be the same doubles
 * (A1111's multiplication order), segment texts the same strings; prompts where A1111 raises (a weight Python's
 * float() rejects) must raise {@link PromptAttention.InvalidWeightException}.
 */
class PromptAttentionParityTest {

    @TestFactory
    List<DynamicTest> corpus() throws IOException {
        JsonObject root = JsonParser.parseString(Files.readString(
                ExtraGoldens.root("a1111").resolve("attention_corpus.json"), StandardCharsets.UTF_8)).getAsJsonObject();
        List<DynamicTest> tests = new ArrayList<>();
        JsonArray cases = root.getAsJsonArray("cases");
        assertTrue(cases.size() >= 100, "corpus has " + cases.size() + " cases");
        for (JsonElement e : cases) {
            JsonObject c = e.getAsJsonObject();
            String prompt = c.get("prompt").getAsString();
            tests.add(DynamicTest.dynamicTest(visible(prompt), () -> {
                if (c.has("error")) {
                    assertEquals("ValueError", c.get("error").getAsString());
                    assertThrows(PromptAttention.InvalidWeightException.class, () -> PromptAttention.parse(prompt));
                    return;
                }
                List<PromptAttention.Segment> expected = new ArrayList<>();
                for (JsonElement s : c.getAsJsonArray("segments")) {
                    JsonArray pair = s.getAsJsonArray();
                    expected.add(new PromptAttention.Segment(pair.get(0).getAsString(), pair.get(1).getAsDouble()));
                }
                assertEquals(expected, PromptAttention.parse(prompt), "prompt " + visible(prompt));
            }));
        }
        return tests;
    }

    @Test
    void breakMarkerIsOnlyAnUnweightedBreak() {
        List<PromptAttention.Segment> s = PromptAttention.parse("a BREAK b (c BREAK d)");
        assertTrue(s.get(1).isBreak());
        assertEquals(1, s.stream().filter(PromptAttention.Segment::isBreak).count(),
                "a BREAK inside brackets is weighted, so A1111 tokenizes it as text");
    }

    private static String visible(String s) {
        return "[" + s.replace("\n", "\\n").replace("\t", "\\t") + "]";
    }
}
