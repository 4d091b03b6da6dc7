package dev.sdcfg.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.model.clip.ClipTextModel;
import dev.sdcfg.model.clip.ClipTokenizer;
import dev.sdcfg.model.config.JsonConfig;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.model.io.Weights;
import dev.sdcfg.model.library.ModelFolderScan;
import dev.sdcfg.model.ti.TextualInversionFile;
import dev.sdcfg.pipeline.prompt.EmbeddingDatabase;
import dev.sdcfg.pipeline.prompt.PromptChunker;
import dev.sdcfg.pipeline.prompt.PromptSyntax;
import dev.sdcfg.pipeline.prompt.WeightedPromptEncoder;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.ExtraGoldens;
import dev.sdcfg.testutil.Fixtures;
import dev.sdcfg.testutil.SafetensorsWriter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Textual-inversion embeddings in A1111 syntax against A1111's own code ({@code parity-extra/a1111/ti},
 * tools/a1111-goldens/gen_ti_prompts.py: its EmbeddingDatabase, tokenize_line and EmbeddingsWithFixes on the random
 * model's text encoder): for each prompt {@link PromptChunker} with an {@link EmbeddingDatabase} of the golden's
 * embedding files gives A1111's chunk ids, float32 multipliers, token count and fixes (offset, name) exactly, and the
 * weighted encoding ({@link PromptEmbeddings#chunkEncoder}) A1111's z within relative L2 1e-6 (fp64) / 1e-4 (fp32),
 * as A1111PromptParityTest. The pipeline's own path (validate, then encodePromptPair with a prompt and a negative
 * prompt that name embeddings) is checked against the same z.
 */
class A1111TextualInversionParityTest {

    private static Path dir;
    private static Safetensors golden;
    private static ClipTokenizer tokenizer;
    private static List<JsonObject> runs;
    private static List<String> names;

    @BeforeAll
    static void open() throws IOException {
        dir = ExtraGoldens.root("a1111").resolve("ti");
        golden = Safetensors.open(dir.resolve("golden.safetensors"));
        tokenizer = ClipTokenizer.load(Fixtures.model().resolve("tokenizer"));
        JsonObject notes = JsonParser.parseString(Files.readString(dir.resolve("notes.json"), StandardCharsets.UTF_8))
                .getAsJsonObject();
        runs = new ArrayList<>();
        for (JsonElement e : notes.getAsJsonArray("runs")) {
            runs.add(e.getAsJsonObject());
        }
        assertEquals(ExtraGoldens.tags(dir, ".tokens").size(), runs.size(), "every golden run is in notes.json");
        names = new ArrayList<>();
        for (JsonElement e : notes.getAsJsonArray("embeddings")) {
            String file = e.getAsString(); // in the order A1111 registered them
            names.add(file.substring(0, file.length() - TextualInversionFile.SUFFIX.length()));
        }
    }

    @AfterAll
    static void close() throws IOException {
        golden.close();
        tokenizer.close();
    }

    private static EmbeddingDatabase database() {
        return new EmbeddingDatabase(tokenizer, names,
                name -> TextualInversionFile.read(dir.resolve(name + TextualInversionFile.SUFFIX)));
    }

    @TestFactory
    List<DynamicTest> chunksAndFixes() {
        List<DynamicTest> tests = new ArrayList<>();
        PromptChunker chunker = new PromptChunker(tokenizer);
        for (JsonObject run : runs) {
            String tag = run.get("tag").getAsString();
            tests.add(DynamicTest.dynamicTest(tag, () -> {
                PromptChunker.Chunks c = chunker.chunk(run.get("prompt").getAsString(), database());
                try (NDManager m = NDManager.newBaseManager(DjlRuntime.engine().defaultDevice())) {
                    long[] ids = golden.load(tag + ".tokens", m, null).toLongArray();
                    float[] mults = golden.load(tag + ".multipliers", m, DataType.FLOAT32).toFloatArray();
                    assertEquals(run.get("chunks").getAsInt(), c.size(), tag + ": chunks");
                    assertEquals(ids.length / 77, c.size(), tag + ": chunks");
                    assertEquals(run.get("token_count").getAsInt(), c.tokenCount(), tag + ": token count");
                    JsonArray fixes = run.getAsJsonArray("fixes");
                    for (int i = 0; i < c.size(); i++) {
                        assertArrayEquals(Arrays.copyOfRange(ids, 77 * i, 77 * (i + 1)), c.tokens().get(i),
                                tag + ": ids of chunk " + i);
                        assertArrayEquals(Arrays.copyOfRange(mults, 77 * i, 77 * (i + 1)), c.multipliers().get(i),
                                tag + ": multipliers of chunk " + i);
                        List<String> expected = new ArrayList<>();
                        for (JsonElement f : fixes.get(i).getAsJsonArray()) {
                            expected.add(f.getAsJsonArray().get(0).getAsInt() + " "
                                    + f.getAsJsonArray().get(1).getAsString());
                        }
                        assertEquals(expected, c.fixes().get(i).stream()
                                .map(f -> f.offset() + " " + f.embedding().name()).toList(), tag + ": fixes of " + i);
                    }
                }
            }));
        }
        return tests;
    }

    @TestFactory
    List<DynamicTest> conditioning(@TempDir Path tmp) throws IOException {
        Path overlay = tmp.resolve("overlay.safetensors");
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
                        PromptChunker.Chunks c = chunker.chunk(run.get("prompt").getAsString(), database());
                        NDArray z = WeightedPromptEncoder.encode(c, PromptEmbeddings.chunkEncoder(model, c, clipSkip),
                                m);
                        NDArray ref = golden.load(tag + "." + p.name() + ".z", m, p.dtype());
                        assertEquals(ref.getShape(), z.getShape(), tag);
                        double err = Fixtures.relL2(z, ref);
                        System.out.printf("[a1111 ti] %s %s: relative L2 %.3e%n", p.name(), tag, err);
                        assertTrue(err < p.limit(), p.name() + " " + tag + ": relative L2 " + err);
                    }
                }));
            }
        }
        return tests;
    }

    /**
     * The pipeline with the golden's embeddings as its folder, on a copy of the random model whose text encoder
     * carries the golden's final layer norm: a default-syntax request whose prompt is the "weighted" run and whose
     * negative prompt the "negative" run passes validation and encodes to A1111's z on both sides; a prompt naming
     * an embedding for another width is a 422 naming the field.
     */
    @Test
    void pipelineEncodesPromptAndNegativePromptAsA1111(@TempDir Path tmp) throws Exception {
        Path model = overlaidModel(tmp.resolve("model"));
        List<ModelFolderScan.Entry> folder = new ArrayList<>();
        for (String n : names) {
            Path f = dir.resolve(n + TextualInversionFile.SUFFIX);
            folder.add(new ModelFolderScan.Entry(n, f, f, false));
        }
        Map<String, JsonObject> byTag = new LinkedHashMap<>();
        runs.forEach(r -> byTag.put(r.get("tag").getAsString(), r));
        GenerationRequest r = new GenerationRequest(byTag.get("weighted").get("prompt").getAsString(),
                byTag.get("negative").get("prompt").getAsString(), 64, 64, 1, "euler", null, null, 1, 1,
                PromptSyntax.A1111);
        for (ExtraGoldens.Precision p : ExtraGoldens.PRECISIONS) {
            try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(model, ComputeContext.cpu(p.dtype()),
                    PipelineOptions.defaults());
                 NDManager m = DjlRuntime.engine().newBaseManager(ai.djl.Device.cpu())) {
                pipe.useEmbeddings(() -> folder);
                pipe.validate(r);
                NDArray[] pair = pipe.encodePromptPair(r, null, m);
                double condErr = Fixtures.relL2(pair[0], golden.load("weighted." + p.name() + ".z", m, p.dtype()));
                double uncondErr = Fixtures.relL2(pair[1], golden.load("negative." + p.name() + ".z", m, p.dtype()));
                System.out.printf("[a1111 ti pipeline] %s: prompt %.3e, negative prompt %.3e%n", p.name(), condErr,
                        uncondErr);
                assertTrue(condErr < p.limit(), p.name() + " prompt: relative L2 " + condErr);
                assertTrue(uncondErr < p.limit(), p.name() + " negative prompt: relative L2 " + uncondErr);
            }
        }
    }

    /** Fixtures.model() with text_encoder/model.safetensors carrying the golden's final layer norm. */
    private static Path overlaidModel(Path to) throws IOException {
        Path from = Fixtures.model();
        Files.createDirectories(to.resolve("text_encoder"));
        try (var entries = Files.list(from)) {
            for (Path e : entries.toList()) {
                if (!e.getFileName().toString().equals("text_encoder")) {
                    Files.createSymbolicLink(to.resolve(e.getFileName().toString()), e.toAbsolutePath());
                }
            }
        }
        Path te = from.resolve("text_encoder");
        Files.copy(te.resolve("config.json"), to.resolve("text_encoder/config.json"));
        try (Safetensors base = Safetensors.open(te.resolve("model.safetensors"))) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (String k : base.keys()) {
                if (k.equals("final_layer_norm.weight") || k.equals("final_layer_norm.bias")) {
                    w.copy(golden, "overlay." + k, k, golden.info("overlay." + k).shape());
                } else {
                    w.copy(base, k, k, base.info(k).shape());
                }
            }
            w.write(to.resolve("text_encoder/model.safetensors"));
        }
        return to;
    }

    /** The random text encoder with the golden's final layer norm (the overlay file's keys win). */
    private static ClipTextModel overlaid(Path overlay, DataType dtype) throws IOException {
        Path te = Fixtures.model().resolve("text_encoder");
        try (Weights w = Weights.of(Safetensors.open(overlay), Safetensors.open(te.resolve("model.safetensors")))) {
            return new ClipTextModel(JsonConfig.read(te.resolve("config.json")), w, ComputeContext.cpu(dtype));
        }
    }

    /** An embedding longer than a chunk cannot be placed (A1111's chunk would outgrow CLIP's 77 positions). */
    @Test
    void embeddingLongerThanAChunkIsRefused(@TempDir Path tmp) throws IOException {
        Path f = tmp.resolve("huge.safetensors");
        new SafetensorsWriter().put("emb_params", new long[] {76, 32}, new float[76 * 32]).write(f);
        EmbeddingDatabase db = new EmbeddingDatabase(tokenizer, List.of("huge"), n -> TextualInversionFile.read(f));
        PromptChunker chunker = new PromptChunker(tokenizer);
        EmbeddingDatabase.UnusableEmbeddingException e = assertThrows(EmbeddingDatabase.UnusableEmbeddingException.class,
                () -> chunker.chunk("a huge cat", db));
        assertTrue(e.getMessage().contains("'huge' has 76 vectors"), e.getMessage());
        assertTrue(chunker.chunk("a hugely big cat", db).fixes().get(0).isEmpty(), "inside a word the name is text");
    }
}
