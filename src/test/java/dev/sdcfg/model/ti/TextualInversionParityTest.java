package dev.sdcfg.model.ti;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.model.clip.ClipTextModel;
import dev.sdcfg.model.clip.ClipTokenizer;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.ExtraGoldens;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * diffusers' load_textual_inversion + maybe_convert_prompt on the demo text encoder with a 2-vector A1111
 * ({@code emb_params}) embedding (tools/ti-goldens): the same ids, and the same last_hidden_state (relative L2 ≤ 1e-6
 * fp64, ≤ 1e-4 fp32).
 */
class TextualInversionParityTest {

    static final String PROMPT = "a photo of tiny-ti on a table";

    @Test
    void idsAndEncoderOutputMatchDiffusers() throws Exception {
        Path dir = ExtraGoldens.root("ti");
        TextualInversionFile emb = TextualInversionFile.read(dir.resolve("tiny-ti.safetensors"));
        assertEquals("tiny-ti", emb.name());
        assertEquals("emb_params", emb.key());
        assertEquals(2, emb.vectorCount());
        Path model = Fixtures.model();
        try (ClipTokenizer tok = ClipTokenizer.load(model.resolve("tokenizer"));
             Safetensors golden = Safetensors.open(dir.resolve("golden.safetensors"));
             NDManager m = DjlRuntime.engine().newBaseManager(ai.djl.Device.cpu())) {
            long[] want = golden.load("ids", m, null).toLongArray();
            for (ExtraGoldens.Precision p : ExtraGoldens.PRECISIONS) {
                try (ClipTextModel te = ClipTextModel.load(model.resolve("text_encoder"), null,
                        ComputeContext.cpu(p.dtype()))) {
                    TextualInversionTokens ti = new TextualInversionTokens(tok, te.vocabSize(), te.hiddenSize(),
                            List.of(emb));
                    long[] ids = ti.encode(PROMPT).ids();
                    assertArrayEquals(want, ids, "ids after maybe_convert_prompt + the added tokens");
                    NDArray out = te.encode(m.create(ids, new Shape(1, ids.length)), 0,
                            ti.extraRows(m, p.dtype()));
                    NDArray ref = golden.load("last_hidden_state." + p.name(), m, DataType.FLOAT64);
                    double err = Fixtures.relL2(out.toType(DataType.FLOAT64, false), ref);
                    System.out.printf("[ti parity] %s: ids equal, last_hidden_state relative L2 %.3e (limit %.0e)%n",
                            p.name(), err, p.limit());
                    assertTrue(err <= p.limit(), p.name() + " relative L2 " + err + " > " + p.limit());
                    // the embedding really is used: the plain table (ids clamped into it) gives another output
                    NDArray plain = te.encode(m.create(tok.encode(PROMPT).ids(), new Shape(1, ids.length)), 0);
                    assertTrue(Fixtures.relL2(plain.toType(DataType.FLOAT64, false), ref) > 1e-3);
                }
            }
        }
    }
}
