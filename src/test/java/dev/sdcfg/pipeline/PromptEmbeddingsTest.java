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
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The pipeline's prompt path with an embeddings folder: a plain-syntax prompt naming tiny-ti is encoded as diffusers
 * encodes it after load_textual_inversion (tools/ti-goldens, the golden of TextualInversionParityTest), in fp64 and
 * fp32; without the folder the same prompt is plain BPE text. In A1111 syntax the name is an embedding too (as a
 * whole token only).
 */
class PromptEmbeddingsTest {

    @Test
    void plainPromptNamingAnEmbeddingMatchesDiffusers() throws Exception {
        Path dir = ExtraGoldens.root("ti");
        Path file = dir.resolve("tiny-ti.safetensors");
        List<ModelFolderScan.Entry> folder = List.of(new ModelFolderScan.Entry("tiny-ti", file, file, false));
        GenerationRequest plain = new GenerationRequest("a photo of tiny-ti on a table", "", 64, 64, 1, "euler", null,
                null, 1, 1, PromptSyntax.PLAIN);
        try (Safetensors golden = Safetensors.open(dir.resolve("golden.safetensors"));
             NDManager m = DjlRuntime.engine().newBaseManager(ai.djl.Device.cpu())) {
            for (ExtraGoldens.Precision p : ExtraGoldens.PRECISIONS) {
                NDArray ref = golden.load("last_hidden_state." + p.name(), m, DataType.FLOAT64);
                try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(Fixtures.model(),
                        ComputeContext.cpu(p.dtype()), PipelineOptions.defaults())) {
                    NDArray without = pipe.encodePromptPair(plain, null, m)[0].toType(DataType.FLOAT64, false);
                    pipe.useEmbeddings(() -> folder);
                    pipe.validate(plain);
                    NDArray with = pipe.encodePromptPair(plain, null, m)[0].toType(DataType.FLOAT64, false);
                    double err = Fixtures.relL2(with, ref);
                    System.out.printf("[ti pipeline] %s: prompt embedding relative L2 %.3e (limit %.0e)%n", p.name(),
                            err, p.limit());
                    assertTrue(err <= p.limit(), p.name() + " relative L2 " + err + " > " + p.limit());
                    assertTrue(Fixtures.relL2(without, ref) > 1e-3, "without the folder the name is plain text");
                    // A1111 syntax: accepted, and the name is A1111's embedding (A1111TextualInversionParityTest)
                    GenerationRequest a1111 = new GenerationRequest(plain.prompt(), "", 64, 64, 1, "euler", null, null,
                            1, 1, PromptSyntax.A1111);
                    pipe.validate(a1111);
                    NDArray a1111With = pipe.encodePromptPair(a1111, null, m)[0].toType(DataType.FLOAT64, false);
                    pipe.useEmbeddings(null);
                    NDArray a1111Without = pipe.encodePromptPair(a1111, null, m)[0].toType(DataType.FLOAT64, false);
                    assertTrue(Fixtures.relL2(a1111With, a1111Without) > 1e-3, "the embedding changes the encoding");
                    // a name inside a word is text in A1111 syntax (whole tokens): the same as without the folder
                    GenerationRequest inWord = new GenerationRequest("a photo of supertiny-tiny", "", 64, 64, 1,
                            "euler", null, null, 1, 1, PromptSyntax.A1111);
                    NDArray inWordWithout = pipe.encodePromptPair(inWord, null, m)[0];
                    pipe.useEmbeddings(() -> folder);
                    assertEquals(0.0, Fixtures.relL2(pipe.encodePromptPair(inWord, null, m)[0], inWordWithout));
                    assertEquals(1, with.getShape().get(0));
                }
            }
        }
    }
}
