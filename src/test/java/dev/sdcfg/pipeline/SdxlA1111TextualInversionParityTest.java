package dev.sdcfg.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.guidance.GuidanceSpec;
import dev.sdcfg.model.clip.ClipTextModel;
import dev.sdcfg.model.clip.ClipTokenizer;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.model.library.ModelFolderScan;
import dev.sdcfg.model.ti.TextualInversionFile;
import dev.sdcfg.pipeline.prompt.EmbeddingDatabase;
import dev.sdcfg.pipeline.prompt.PromptChunker;
import dev.sdcfg.pipeline.prompt.PromptSyntax;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.ExtraGoldens;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SDXL textual-inversion embeddings in A1111 syntax against A1111's own two embedders with its EmbeddingDatabase and
 * EmbeddingsWithFixes ({@code parity-extra/a1111/ti/sdxl}, tools/a1111-goldens/gen_sdxl_ti_prompts.py, on the tiny
 * SDXL model): names registered by the first tokenizer's ids and matched in both embedders' ids, each encoder taking
 * its own table (clip_l, clip_g); both encoders' chunk ids, multipliers and fixes exactly, the conditioning
 * [1, 77·k, 72] and the pooled embeds of chunk 0 (pooled at EOS: A1111's ids hold zeros where the vectors go) within
 * relative L2 1e-6 (fp64) / 1e-4 (fp32); and the pipeline's own path (validate, encodeXl) on the same prompt.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SdxlA1111TextualInversionParityTest {

    private Path model;
    private Path dir;
    private Safetensors golden;
    private List<JsonObject> runs;
    private List<String> names;

    @BeforeAll
    void open() throws IOException {
        model = Fixtures.resource("parity-extra/sdxl").resolve("model");
        dir = ExtraGoldens.root("a1111").resolve("ti").resolve("sdxl");
        golden = Safetensors.open(dir.resolve("golden.safetensors"));
        JsonObject notes = JsonParser.parseString(Files.readString(dir.resolve("notes.json"),
                StandardCharsets.UTF_8)).getAsJsonObject();
        runs = new ArrayList<>();
        for (JsonElement e : notes.getAsJsonArray("runs")) {
            runs.add(e.getAsJsonObject());
        }
        assertEquals(ExtraGoldens.tags(dir, ".tokens_1").size(), runs.size(), "every golden run is in notes.json");
        names = new ArrayList<>();
        for (JsonElement e : notes.getAsJsonArray("embeddings")) {
            String file = e.getAsString();
            names.add(file.substring(0, file.length() - TextualInversionFile.SUFFIX.length()));
        }
    }

    @AfterAll
    void close() throws IOException {
        golden.close();
    }

    @TestFactory
    List<DynamicTest> conditioning() {
        List<DynamicTest> tests = new ArrayList<>();
        for (ExtraGoldens.Precision p : ExtraGoldens.PRECISIONS) {
            for (JsonObject run : runs) {
                String tag = run.get("tag").getAsString();
                tests.add(DynamicTest.dynamicTest(p.name() + " " + tag, () -> {
                    ComputeContext ctx = ComputeContext.cpu(p.dtype());
                    try (ClipTokenizer tok1 = ClipTokenizer.load(model.resolve("tokenizer"));
                         ClipTextModel te1 = ClipTextModel.load(model.resolve("text_encoder"), null, ctx);
                         SdxlConditioning sx = new SdxlConditioning(ClipTokenizer.load(model.resolve("tokenizer_2")),
                                 ClipTextModel.loadWithProjection(model.resolve("text_encoder_2"), null, ctx), true);
                         NDManager m = NDManager.newBaseManager(DjlRuntime.engine().defaultDevice())) {
                        String prompt = run.get("prompt").getAsString();
                        EmbeddingDatabase db = new EmbeddingDatabase(tok1, names,
                                n -> TextualInversionFile.read(dir.resolve(n + TextualInversionFile.SUFFIX)));
                        PromptChunker.Chunks c1 = new PromptChunker(tok1).chunk(prompt, db);
                        PromptChunker.Chunks c2 = sx.chunker2().chunk(prompt, db);
                        assertEquals(run.get("chunks").getAsInt(), c1.size(), tag + ": chunks");
                        assertEquals(run.get("token_count").getAsInt(), c1.tokenCount(), tag + ": token count");
                        float[] mults = golden.load(tag + ".multipliers", m, DataType.FLOAT32).toFloatArray();
                        assertChunks(tag + " encoder 1", c1, golden.load(tag + ".tokens_1", m, null).toLongArray(),
                                mults, run.getAsJsonArray("fixes_1"));
                        assertChunks(tag + " encoder 2", c2, golden.load(tag + ".tokens_2", m, null).toLongArray(),
                                mults, run.getAsJsonArray("fixes_2"));
                        SdxlConditioning.Encoded e = sx.encodeChunked(c1, c2, te1, 0, SizeConditions.defaults(64, 48),
                                m);
                        NDArray ref = golden.load(tag + "." + p.name() + ".crossattn", m, p.dtype());
                        assertEquals(ref.getShape(), e.embeds().getShape(), tag);
                        double err = Fixtures.relL2(e.embeds(), ref);
                        double errPooled = Fixtures.relL2(e.added().textEmbeds(),
                                golden.load(tag + "." + p.name() + ".pooled", m, p.dtype()));
                        System.out.printf("[a1111 sdxl ti] %s %s: conditioning %.3e, pooled %.3e%n", p.name(), tag,
                                err, errPooled);
                        assertTrue(err < p.limit(), p.name() + " " + tag + ": conditioning relative L2 " + err);
                        assertTrue(errPooled < p.limit(), p.name() + " " + tag + ": pooled relative L2 " + errPooled);
                    }
                }));
            }
        }
        return tests;
    }

    private static void assertChunks(String what, PromptChunker.Chunks c, long[] ids, float[] mults,
                                     JsonArray fixes) {
        assertEquals(ids.length / 77, c.size(), what + ": chunks");
        for (int i = 0; i < c.size(); i++) {
            assertArrayEquals(Arrays.copyOfRange(ids, 77 * i, 77 * (i + 1)), c.tokens().get(i), what + ": ids " + i);
            assertArrayEquals(Arrays.copyOfRange(mults, 77 * i, 77 * (i + 1)), c.multipliers().get(i),
                    what + ": multipliers " + i);
            List<String> expected = new ArrayList<>();
            for (JsonElement f : fixes.get(i).getAsJsonArray()) {
                expected.add(f.getAsJsonArray().get(0).getAsInt() + " " + f.getAsJsonArray().get(1).getAsString());
            }
            assertEquals(expected, c.fixes().get(i).stream().map(f -> f.offset() + " " + f.embedding().name())
                    .toList(), what + ": fixes " + i);
        }
    }

    /** The SDXL pipeline with the golden's embeddings as its folder: the prompt side of each run is A1111's. */
    @Test
    void pipelineEncodesAsA1111() throws IOException {
        List<ModelFolderScan.Entry> folder = new ArrayList<>();
        for (String n : names) {
            Path f = dir.resolve(n + TextualInversionFile.SUFFIX);
            folder.add(new ModelFolderScan.Entry(n, f, f, false));
        }
        for (ExtraGoldens.Precision p : ExtraGoldens.PRECISIONS) {
            try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(model, ComputeContext.cpu(p.dtype()),
                    PipelineOptions.defaults());
                 NDManager m = NDManager.newBaseManager(DjlRuntime.engine().defaultDevice())) {
                pipe.useEmbeddings(() -> folder);
                for (JsonObject run : runs) {
                    String tag = run.get("tag").getAsString();
                    GenerationRequest r = new GenerationRequest(run.get("prompt").getAsString(), "x", 64, 48, 2,
                            "euler", null, GuidanceSpec.parse("{\"normalizer\":\"none\",\"g\":5}"), 1, 1,
                            PromptSyntax.A1111);
                    pipe.validate(r);
                    SdxlConditioning.Encoded cond = pipe.encodeXl(r, SizeConditions.defaults(64, 48), null, m)[1];
                    double err = Fixtures.relL2(cond.embeds(), golden.load(tag + "." + p.name() + ".crossattn", m,
                            p.dtype()));
                    double errPooled = Fixtures.relL2(cond.added().textEmbeds(),
                            golden.load(tag + "." + p.name() + ".pooled", m, p.dtype()));
                    System.out.printf("[a1111 sdxl ti pipeline] %s %s: conditioning %.3e, pooled %.3e%n", p.name(),
                            tag, err, errPooled);
                    assertTrue(err < p.limit(), p.name() + " " + tag + ": conditioning relative L2 " + err);
                    assertTrue(errPooled < p.limit(), p.name() + " " + tag + ": pooled relative L2 " + errPooled);
                }
            }
        }
    }
}
