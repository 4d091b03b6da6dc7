package dev.sdcfg.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.model.library.ModelFolderScan;
import dev.sdcfg.pipeline.prompt.PromptSyntax;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.ExtraGoldens;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SDXL textual inversion ({@code clip_l} + {@code clip_g}) against diffusers' own {@code load_textual_inversion} on both
 * encoders of the tiny SDXL model ({@code tools/ti-goldens/gen_ti_sdxl.py}): a plain-syntax prompt naming tiny-xl
 * gives encode_prompt's prompt_embeds (both encoders' hidden_states[-2], concatenated) and pooled_prompt_embeds
 * (text_encoder_2's text_embeds, pooled at argmax(ids), which an added token wins) in fp64 and fp32; each tokenizer's
 * ids are diffusers'. An SD 1.x embedding on the SDXL model and the SDXL embedding on an SD 1.x model are refused.
 */
class SdxlTextualInversionParityTest {

    @Test
    void plainPromptNamingAnSdxlEmbeddingMatchesDiffusers() throws Exception {
        Path dir = ExtraGoldens.root("ti").resolve("sdxl");
        Path file = dir.resolve("tiny-xl.safetensors");
        List<ModelFolderScan.Entry> folder = List.of(new ModelFolderScan.Entry("tiny-xl", file, file, false));
        GenerationRequest plain = new GenerationRequest("a photo of tiny-xl on a table", "", 64, 48, 1, "euler", null,
                null, 1, 1, PromptSyntax.PLAIN);
        Path model = ExtraGoldens.root("sdxl").resolve("model");
        try (Safetensors golden = Safetensors.open(dir.resolve("golden.safetensors"));
             NDManager m = DjlRuntime.engine().newBaseManager(ai.djl.Device.cpu())) {
            for (ExtraGoldens.Precision p : ExtraGoldens.PRECISIONS) {
                NDArray refEmbeds = golden.load("prompt_embeds." + p.name(), m, DataType.FLOAT64);
                NDArray refPooled = golden.load("pooled_prompt_embeds." + p.name(), m, DataType.FLOAT64);
                try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(model, ComputeContext.cpu(p.dtype()),
                        PipelineOptions.defaults())) {
                    SizeConditions sizes = SizeConditions.of(plain);
                    SdxlConditioning.Encoded without = pipe.encodeXl(plain, sizes, new ArrayList<>(), m)[1];
                    pipe.useEmbeddings(() -> folder);
                    pipe.validate(plain);
                    SdxlConditioning.Encoded with = pipe.encodeXl(plain, sizes, new ArrayList<>(), m)[1];
                    double e1 = Fixtures.relL2(with.embeds().toType(DataType.FLOAT64, false), refEmbeds);
                    double e2 = Fixtures.relL2(with.added().textEmbeds().toType(DataType.FLOAT64, false), refPooled);
                    System.out.printf("[sdxl ti] %s: prompt_embeds relative L2 %.3e, pooled %.3e (limit %.0e)%n",
                            p.name(), e1, e2, p.limit());
                    assertTrue(e1 <= p.limit(), p.name() + " prompt_embeds relative L2 " + e1);
                    assertTrue(e2 <= p.limit(), p.name() + " pooled relative L2 " + e2);
                    assertTrue(Fixtures.relL2(without.embeds().toType(DataType.FLOAT64, false), refEmbeds) > 1e-3,
                            "without the folder the name is plain text");
                    var ti = PromptEmbeddings.forRequestXl(() -> folder, plain, pipe.tokenizer(), pipe.textEncoder(),
                            pipe.sdxlTokenizer2(), pipe.sdxlTextEncoder2());
                    assertArrayEquals(golden.load("ids_1", m, DataType.INT64).toLongArray(),
                            ti[0].encode(plain.prompt()).ids());
                    assertArrayEquals(golden.load("ids_2", m, DataType.INT64).toLongArray(),
                            ti[1].encode(plain.prompt()).ids());
                    // an embedding of the other family is a 422 naming it
                    Path sd1 = ExtraGoldens.root("ti").resolve("tiny-ti.safetensors");
                    pipe.useEmbeddings(() -> List.of(new ModelFolderScan.Entry("tiny-ti", sd1, sd1, false)));
                    InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> pipe.validate(
                            new GenerationRequest("a tiny-ti", "", 64, 48, 1, "euler", null, null, 1, 1,
                                    PromptSyntax.PLAIN)));
                    assertTrue(e.getMessage().contains("tiny-ti") && e.getMessage().contains("clip_g"), e.getMessage());
                }
            }
            try (StableDiffusionPipeline sd = StableDiffusionPipeline.load(Fixtures.model(), ComputeContext.cpu(),
                    PipelineOptions.defaults())) {
                sd.useEmbeddings(() -> folder);
                InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> sd.validate(plain));
                assertTrue(e.getMessage().contains("tiny-xl") && e.getMessage().contains("SDXL"), e.getMessage());
            }
        }
    }
}
