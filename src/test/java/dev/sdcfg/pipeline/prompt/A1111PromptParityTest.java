package dev.sdcfg.pipeline.prompt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.model.clip.ClipTextModel;
import dev.sdcfg.model.clip.ClipTokenizer;
import dev.sdcfg.model.config.JsonConfig;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.model.io.Weights;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.ExtraGoldens;
import dev.sdcfg.testutil.Fixtures;
import dev.sdcfg.testutil.SafetensorsWriter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Long and weighted prompts against A1111's own {@code FrozenCLIPEmbedderWithCustomWords.forward}
 * ({@code parity-extra/a1111/chunks}, tools/a1111-goldens): for each prompt, {@link PromptChunker}'s chunk ids and
 * float32 multipliers must equal A1111's exactly, and {@link WeightedPromptEncoder} over the demo text encoder
 * (with the golden's trained-looking final layer norm overlaid) must give A1111's z, [1, 77·k, C], within relative
 * L2 1e-6 (fp64) / 1e-4 (fp32), at the clip skip the run names.
 */
class A1111PromptParityTest {

    private static Path goldenDir;
    private static Safetensors golden;
    private static ClipTokenizer tokenizer;
    private static List<JsonObject> runs;

    @BeforeAll
    static void open() throws IOException {
        goldenDir = ExtraGoldens.root("a1111").resolve("chunks");
        golden = Safetensors.open(goldenDir.resolve("golden.safetensors"));
        tokenizer = ClipTokenizer.load(Fixtures.model().resolve("tokenizer"));
        JsonObject notes = JsonParser.parseString(Files.readString(goldenDir.resolve("notes.json"),
                StandardCharsets.UTF_8)).getAsJsonObject();
        runs = new ArrayList<>();
        for (JsonElement e : notes.getAsJsonArray("runs")) {
            runs.add(e.getAsJsonObject());
        }
        assertEquals(ExtraGoldens.tags(goldenDir, ".tokens").size(), runs.size(), "every golden run is in notes.json");
    }

    @AfterAll
    static void close() throws IOException {
        golden.close();
        tokenizer.close();
    }

    @TestFactory
    List<DynamicTest> chunks() {
        List<DynamicTest> tests = new ArrayList<>();
        PromptChunker chunker = new PromptChunker(tokenizer);
        for (JsonObject run : runs) {
            String tag = run.get("tag").getAsString();
            tests.add(DynamicTest.dynamicTest(tag, () -> {
                PromptChunker.Chunks c = chunker.chunk(run.get("prompt").getAsString());
                try (NDManager m = NDManager.newBaseManager(DjlRuntime.engine().defaultDevice())) {
                    long[] ids = golden.load(tag + ".tokens", m, null).toLongArray();
                    float[] mults = golden.load(tag + ".multipliers", m, DataType.FLOAT32).toFloatArray();
                    assertEquals(ids.length / 77, c.size(), tag + ": chunks");
                    assertEquals(run.get("chunks").getAsInt(), c.size());
                    assertEquals(run.get("token_count").getAsInt(), c.tokenCount(), tag + ": token count");
                    for (int i = 0; i < c.size(); i++) {
                        assertArrayEquals(java.util.Arrays.copyOfRange(ids, 77 * i, 77 * (i + 1)), c.tokens().get(i),
                                tag + ": ids of chunk " + i);
                        assertArrayEquals(java.util.Arrays.copyOfRange(mults, 77 * i, 77 * (i + 1)),
                                c.multipliers().get(i), tag + ": multipliers of chunk " + i);
                    }
                }
            }));
        }
        return tests;
    }

    @TestFactory
    List<DynamicTest> embeddings(@TempDir Path tmp) throws IOException {
        Path te = tmp.resolve("text_encoder");
        Files.createDirectories(te);
        Path overlay = te.resolve("overlay.safetensors");
        new SafetensorsWriter()
                .copy(golden, "overlay.final_layer_norm.weight", "final_layer_norm.weight",
                        golden.info("overlay.final_layer_norm.weight").shape())
                .copy(golden, "overlay.final_layer_norm.bias", "final_layer_norm.bias",
                        golden.info("overlay.final_layer_norm.bias").shape())
                .write(overlay);
        List<DynamicTest> tests = new ArrayList<>();
        PromptChunker chunker = new PromptChunker(tokenizer);
        for (ExtraGoldens.Precision p : ExtraGoldens.PRECISIONS) {
            for (JsonObject run : runs) {
                String tag = run.get("tag").getAsString();
                tests.add(DynamicTest.dynamicTest(p.name() + " " + tag, () -> {
                    int clipSkip = run.get("CLIP_stop_at_last_layers").getAsInt() - 1; // A1111 N = diffusers k + 1
                    try (ClipTextModel model = overlaid(overlay, p.dtype());
                         NDManager m = NDManager.newBaseManager(DjlRuntime.engine().defaultDevice())) {
                        PromptChunker.Chunks c = chunker.chunk(run.get("prompt").getAsString());
                        NDArray z = WeightedPromptEncoder.encode(c, (ids, i) -> model.encode(ids, clipSkip), m);
                        NDArray ref = golden.load(tag + "." + p.name() + ".z", m, p.dtype());
                        assertEquals(ref.getShape(), z.getShape(), tag);
                        double err = Fixtures.relL2(z, ref);
                        assertTrue(err < p.limit(), p.name() + " " + tag + ": relative L2 " + err);
                    }
                }));
            }
        }
        return tests;
    }

    /** The demo text encoder with the golden's final layer norm (the overlay file's keys win). */
    private static ClipTextModel overlaid(Path overlay, DataType dtype) throws IOException {
        Path dir = Fixtures.model().resolve("text_encoder");
        try (Weights w = Weights.of(Safetensors.open(overlay), Safetensors.open(dir.resolve("model.safetensors")))) {
            return new ClipTextModel(JsonConfig.read(dir.resolve("config.json")), w, ComputeContext.cpu(dtype));
        }
    }
}
