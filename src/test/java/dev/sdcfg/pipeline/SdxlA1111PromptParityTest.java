package dev.sdcfg.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.guidance.GuidanceSpec;
import dev.sdcfg.model.clip.ClipTextModel;
import dev.sdcfg.model.clip.ClipTokenizer;
import dev.sdcfg.model.io.Safetensors;
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
 * A1111 prompt syntax on SDXL against A1111's own two embedders ({@code parity-extra/a1111/sdxl},
 * tools/a1111-goldens/gen_sdxl_prompts.py: FrozenCLIPEmbedderForSDXLWithCustomWords and
 * FrozenOpenCLIPEmbedder2WithCustomWords on the tiny SDXL model, their outputs concatenated on the channels as sgm's
 * GeneralConditioner does): each encoder's chunk ids and multipliers exactly, the conditioning [1, 77·k, 72] and
 * the pooled embeds of chunk 0 within relative L2 1e-6 (fp64) / 1e-4 (fp32). Then, on the SDXL pipeline, what the
 * golden does not cover: a prompt without markup gives the plain path's bits, and cond / uncond padding.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SdxlA1111PromptParityTest {

    private Path model;
    private Safetensors golden;
    private List<JsonObject> runs;

    @BeforeAll
    void open() throws IOException {
        model = Fixtures.resource("parity-extra/sdxl").resolve("model");
        Path dir = ExtraGoldens.root("a1111").resolve("sdxl");
        golden = Safetensors.open(dir.resolve("golden.safetensors"));
        JsonObject notes = JsonParser.parseString(Files.readString(dir.resolve("notes.json"),
                StandardCharsets.UTF_8)).getAsJsonObject();
        runs = new ArrayList<>();
        for (JsonElement e : notes.getAsJsonArray("runs")) {
            runs.add(e.getAsJsonObject());
        }
        assertEquals(ExtraGoldens.tags(dir, ".tokens_1").size(), runs.size(), "every golden run is in notes.json");
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
                        PromptChunker.Chunks c1 = new PromptChunker(tok1).chunk(prompt);
                        PromptChunker.Chunks c2 = sx.chunker2().chunk(prompt);
                        assertEquals(run.get("chunks").getAsInt(), c1.size(), tag + ": chunks");
                        assertChunks(tag + " encoder 1", c1, golden.load(tag + ".tokens_1", m, null).toLongArray(),
                                golden.load(tag + ".multipliers", m, DataType.FLOAT32).toFloatArray());
                        assertChunks(tag + " encoder 2", c2, golden.load(tag + ".tokens_2", m, null).toLongArray(),
                                golden.load(tag + ".multipliers", m, DataType.FLOAT32).toFloatArray());
                        SdxlConditioning.Encoded e = sx.encodeChunked(c1, c2, te1, 0, SizeConditions.defaults(64, 48),
                                m);
                        NDArray ref = golden.load(tag + "." + p.name() + ".crossattn", m, p.dtype());
                        assertEquals(ref.getShape(), e.embeds().getShape(), tag);
                        double err = Fixtures.relL2(e.embeds(), ref);
                        assertTrue(err < p.limit(), p.name() + " " + tag + ": conditioning relative L2 " + err);
                        double errPooled = Fixtures.relL2(e.added().textEmbeds(),
                                golden.load(tag + "." + p.name() + ".pooled", m, p.dtype()));
                        assertTrue(errPooled < p.limit(), p.name() + " " + tag + ": pooled relative L2 " + errPooled);
                    }
                }));
            }
        }
        return tests;
    }

    private static void assertChunks(String what, PromptChunker.Chunks c, long[] ids, float[] mults) {
        assertEquals(ids.length / 77, c.size(), what + ": chunks");
        for (int i = 0; i < c.size(); i++) {
            assertArrayEquals(Arrays.copyOfRange(ids, 77 * i, 77 * (i + 1)), c.tokens().get(i), what + ": ids " + i);
            assertArrayEquals(Arrays.copyOfRange(mults, 77 * i, 77 * (i + 1)), c.multipliers().get(i),
                    what + ": multipliers " + i);
        }
    }

    private static GenerationRequest request(String prompt, String negative, PromptSyntax syntax) {
        return new GenerationRequest(prompt, negative, 64, 48, 2, "euler", null,
                GuidanceSpec.parse("{\"normalizer\":\"none\",\"g\":5}"), 1, 1, syntax);
    }

    @Test
    void pipelinePathsAndPadding() {
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(model, ComputeContext.cpu(),
                PipelineOptions.defaults());
             NDManager m = NDManager.newBaseManager()) {
            // no markup, within 75 tokens: A1111 syntax is the plain path, bit for bit (both sides)
            String p = "a watercolor painting of a lighthouse on a cliff at dusk";
            for (String negative : new String[] {"blurry, low quality", ""}) {
                List<String> warnings = new ArrayList<>();
                SdxlConditioning.Encoded[] a = pipe.encodeXl(request(p, negative, PromptSyntax.A1111),
                        SizeConditions.defaults(64, 48), warnings, m);
                SdxlConditioning.Encoded[] b = pipe.encodeXl(request(p, negative, PromptSyntax.PLAIN),
                        SizeConditions.defaults(64, 48), null, m);
                for (int side = 0; side < 2; side++) {
                    assertArrayEquals(b[side].embeds().toFloatArray(), a[side].embeds().toFloatArray(), "embeds");
                    assertArrayEquals(b[side].added().textEmbeds().toFloatArray(),
                            a[side].added().textEmbeds().toFloatArray(), "pooled");
                }
                assertEquals(List.of(), warnings);
            }
            // a two-chunk prompt: the negative is padded with A1111's empty chunk through both encoders
            List<String> warnings = new ArrayList<>();
            SdxlConditioning.Encoded[] two = pipe.encodeXl(request("a (red:1.2) cat BREAK a blue dog", "blurry",
                    PromptSyntax.A1111), SizeConditions.defaults(64, 48), warnings, m);
            assertEquals(List.of(), warnings, "markup is applied, no warning");
            assertEquals(new Shape(1, 154, 72), two[1].embeds().getShape());
            assertEquals(new Shape(1, 154, 72), two[0].embeds().getShape());
            SdxlConditioning.Encoded blurry = pipe.encodeXl(request("blurry", "x", PromptSyntax.A1111),
                    SizeConditions.defaults(64, 48), null, m)[1];
            SdxlConditioning.Encoded empty = pipe.encodeXl(request("", "x", PromptSyntax.A1111),
                    SizeConditions.defaults(64, 48), null, m)[1];
            // the negative side is encoded at hidden_states[-2] as the prompt here (clip skip 0)
            assertArrayEquals(blurry.embeds().toFloatArray(), two[0].embeds().get(":, 0:77, :").toFloatArray());
            assertArrayEquals(empty.embeds().toFloatArray(), two[0].embeds().get(":, 77:, :").toFloatArray());
            assertArrayEquals(blurry.added().textEmbeds().toFloatArray(), two[0].added().textEmbeds().toFloatArray());
            // an empty negative prompt (force_zeros_for_empty_prompt): zeros shaped like the whole prompt
            SdxlConditioning.Encoded[] zeros = pipe.encodeXl(request("a (red:1.2) cat BREAK a blue dog", "",
                    PromptSyntax.A1111), SizeConditions.defaults(64, 48), null, m);
            assertEquals(new Shape(1, 154, 72), zeros[0].embeds().getShape());
            assertEquals(0f, zeros[0].embeds().abs().max().getFloat());
            assertEquals(0f, zeros[0].added().textEmbeds().abs().max().getFloat());
            // the pooled embeds are chunk 0's: the same as the first chunk's text alone
            SdxlConditioning.Encoded first = pipe.encodeXl(request("a (red:1.2) cat", "x", PromptSyntax.A1111),
                    SizeConditions.defaults(64, 48), null, m)[1];
            assertArrayEquals(first.added().textEmbeds().toFloatArray(), two[1].added().textEmbeds().toFloatArray());
            assertArrayEquals(first.embeds().toFloatArray(), two[1].embeds().get(":, 0:77, :").toFloatArray());
        }
    }
}
