package dev.sdcfg.model.clip;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Golden parity of the CLIP tokenizer: every prompt of the golden {@code tokenizer.json} gives exactly its
 * {@code input_ids}, {@code attention_mask} and {@code untruncated_length}, whether the tokenizer comes from the
 * folder's tokenizer.json or is built from vocab.json + merges.txt alone.
 */
class ClipTokenizerParityTest {

    private static final long BOS = 49406;
    private static final long EOS = 49407;

    @TempDir
    static Path shared;

    private static ClipTokenizer fromJson;
    private static ClipTokenizer fromVocabMerges;
    private static ClipTokenizer fromVocabMergesAndConfig;

    @BeforeAll
    static void load() throws IOException {
        Path dir = Fixtures.model().resolve("tokenizer");
        assertTrue(Files.isRegularFile(dir.resolve("tokenizer.json")), "fixture tokenizer.json missing");
        fromJson = ClipTokenizer.load(dir, 77);

        Path bare = Files.createDirectories(shared.resolve("bare"));
        Files.copy(dir.resolve("vocab.json"), bare.resolve("vocab.json"));
        Files.copy(dir.resolve("merges.txt"), bare.resolve("merges.txt"));
        fromVocabMerges = ClipTokenizer.load(bare, 77);

        // with tokenizer_config.json too, and the max length resolved from the configs (the config's 1e30 is no
        // limit, so it falls back to text_encoder/config.json's max_position_embeddings)
        Path withCfg = Files.createDirectories(shared.resolve("sd").resolve("tokenizer"));
        Files.copy(dir.resolve("vocab.json"), withCfg.resolve("vocab.json"));
        Files.copy(dir.resolve("merges.txt"), withCfg.resolve("merges.txt"));
        Files.copy(dir.resolve("tokenizer_config.json"), withCfg.resolve("tokenizer_config.json"));
        Path te = Files.createDirectories(shared.resolve("sd").resolve("text_encoder"));
        Files.copy(Fixtures.model().resolve("text_encoder").resolve("config.json"), te.resolve("config.json"));
        fromVocabMergesAndConfig = ClipTokenizer.load(withCfg);
    }

    @AfterAll
    static void close() {
        for (ClipTokenizer t : new ClipTokenizer[] {fromJson, fromVocabMerges, fromVocabMergesAndConfig}) {
            if (t != null) {
                t.close();
            }
        }
    }

    static Stream<Arguments> goldenPrompts() throws IOException {
        JsonArray golden = JsonParser.parseString(Files.readString(Fixtures.golden().resolve("tokenizer.json"),
                StandardCharsets.UTF_8)).getAsJsonArray();
        assertFalse(golden.isEmpty(), "no prompts in golden tokenizer.json");
        List<Arguments> out = new ArrayList<>();
        for (JsonElement e : golden) {
            JsonObject o = e.getAsJsonObject();
            for (String source : new String[] {"tokenizer.json", "vocab+merges", "vocab+merges+config"}) {
                out.add(Arguments.of(source, o.get("prompt").getAsString(), longs(o.getAsJsonArray("input_ids")),
                        longs(o.getAsJsonArray("attention_mask")), o.get("untruncated_length").getAsInt()));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "[{0}] {1}")
    @MethodSource("goldenPrompts")
    void matchesGolden(String source, String prompt, long[] ids, long[] mask, int untruncated) {
        ClipTokenizer tok = switch (source) {
            case "tokenizer.json" -> fromJson;
            case "vocab+merges" -> fromVocabMerges;
            default -> fromVocabMergesAndConfig;
        };
        ClipTokenizer.Encoding enc = tok.encode(prompt);
        assertArrayEquals(ids, enc.ids(), () -> "input_ids of '" + prompt + "': " + Arrays.toString(enc.ids()));
        assertArrayEquals(mask, enc.attentionMask(), () -> "attention_mask of '" + prompt + "'");
        assertEquals(untruncated, enc.untruncatedLength(), "untruncated_length of '" + prompt + "'");
        assertEquals(untruncated > ids.length, enc.truncated());
    }

    @Test
    void configsResolveSpecialTokensAndLength() {
        for (ClipTokenizer t : new ClipTokenizer[] {fromJson, fromVocabMerges, fromVocabMergesAndConfig}) {
            assertEquals(BOS, t.bosId());
            assertEquals(EOS, t.eosId());
            assertEquals(EOS, t.padId());
            assertEquals(77, t.maxLength());
        }
    }

    @Test
    void longPromptIsTruncatedKeepingEos() {
        String prompt = "a very detailed painting of a castle on a hill at sunset, ".repeat(12);
        for (ClipTokenizer t : new ClipTokenizer[] {fromJson, fromVocabMerges}) {
            ClipTokenizer.Encoding enc = t.encode(prompt);
            assertEquals(77, enc.ids().length);
            assertTrue(enc.truncated());
            assertTrue(enc.untruncatedLength() > 77, "untruncated " + enc.untruncatedLength());
            assertEquals(BOS, enc.ids()[0]);
            assertEquals(EOS, enc.ids()[76]);
            for (int i = 1; i < 76; i++) {
                assertTrue(enc.ids()[i] != EOS && enc.ids()[i] != BOS, "special token inside at " + i);
            }
            long[] ones = new long[77];
            Arrays.fill(ones, 1);
            assertArrayEquals(ones, enc.attentionMask());
            assertEquals(77, enc.length());
        }
    }

    @Test
    void promptOfExactlyMaxLengthIsNotTruncated() {
        // "word" is one token: 75 of them + BOS + EOS = 77
        ClipTokenizer.Encoding enc = fromJson.encode("word ".repeat(75));
        assertEquals(77, enc.untruncatedLength());
        assertFalse(enc.truncated());
        assertEquals(EOS, enc.ids()[76]);
        assertEquals(2653, enc.ids()[75]);
        ClipTokenizer.Encoding over = fromJson.encode("word ".repeat(76));
        assertEquals(78, over.untruncatedLength());
        assertTrue(over.truncated());
        assertEquals(EOS, over.ids()[76]);
    }

    @Test
    void emptyPromptIsBosEosThenPadding() {
        for (ClipTokenizer t : new ClipTokenizer[] {fromJson, fromVocabMerges}) {
            ClipTokenizer.Encoding enc = t.encode("");
            long[] expected = new long[77];
            Arrays.fill(expected, EOS);
            expected[0] = BOS;
            assertArrayEquals(expected, enc.ids());
            long[] mask = new long[77];
            mask[0] = 1;
            mask[1] = 1;
            assertArrayEquals(mask, enc.attentionMask());
            assertEquals(2, enc.untruncatedLength());
            assertFalse(enc.truncated());
        }
    }

    @Test
    void explicitMaxLengthIsHonoured() {
        try (ClipTokenizer t = ClipTokenizer.load(Fixtures.model().resolve("tokenizer"), 8)) {
            ClipTokenizer.Encoding enc = t.encode("a photograph of an astronaut riding a horse");
            assertArrayEquals(new long[] {BOS, 320, 8853, 539, 550, 18376, 6765, EOS}, enc.ids());
            assertEquals(10, enc.untruncatedLength());
            assertTrue(enc.truncated());
        }
    }

    /**
     * SD 2.x folders name {@code "!"} (id 0) as pad token. diffusers then pads with 0, and because transformers
     * registers special tokens as added tokens, every "!" in a prompt is its own token. Expected ids are the
     * diffusers output quoted in huggingface/diffusers#4153 for "! !! !!!" with SD-XL's tokenizer_2 (same files).
     */
    @Test
    void sd2StylePadTokenPadsWithItsId(@TempDir Path dir) throws IOException {
        Path src = Fixtures.model().resolve("tokenizer");
        Files.copy(src.resolve("vocab.json"), dir.resolve("vocab.json"));
        Files.copy(src.resolve("merges.txt"), dir.resolve("merges.txt"));
        Files.writeString(dir.resolve("tokenizer_config.json"), "{\"model_max_length\": 77,"
                + " \"bos_token\": {\"__type\": \"AddedToken\", \"content\": \"<|startoftext|>\"},"
                + " \"eos_token\": {\"__type\": \"AddedToken\", \"content\": \"<|endoftext|>\"},"
                + " \"pad_token\": \"<|endoftext|>\"}");
        Files.writeString(dir.resolve("special_tokens_map.json"), "{\"pad_token\": \"!\"}");
        try (ClipTokenizer t = ClipTokenizer.load(dir)) {
            assertEquals(0, t.padId());
            assertEquals(77, t.maxLength());
            ClipTokenizer.Encoding enc = t.encode("! !! !!!");
            long[] expected = new long[77];
            expected[0] = BOS;
            expected[7] = EOS;
            assertArrayEquals(expected, enc.ids());
            assertEquals(8, enc.untruncatedLength());
            ClipTokenizer.Encoding empty = t.encode("");
            assertEquals(BOS, empty.ids()[0]);
            assertEquals(EOS, empty.ids()[1]);
            assertEquals(0, empty.ids()[2]);
            assertEquals(0, empty.ids()[76]);
        }
    }

    @Test
    void missingFilesFailNamingTheFolder(@TempDir Path dir) {
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> ClipTokenizer.load(dir, 77));
        assertTrue(e.getMessage().contains(dir.toString()) && e.getMessage().contains("merges.txt"), e.getMessage());
    }

    private static long[] longs(JsonArray a) {
        long[] out = new long[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).getAsLong();
        }
        return out;
    }
}
