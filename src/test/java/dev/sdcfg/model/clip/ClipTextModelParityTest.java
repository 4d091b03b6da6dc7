package dev.sdcfg.model.clip;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.model.nn.Ops;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.Fixtures;
import dev.sdcfg.testutil.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Golden parity of the CLIP text encoder: for every {@code text_encoder_f32/f64.safetensors} in the golden folder,
 * the embeddings output, hidden_states[-2] and last_hidden_state for its {@code input_ids}, in the golden's
 * precision (relative L2 &lt; 1e-4 in fp32, &lt; 1e-6 in fp64).
 */
class ClipTextModelParityTest {

    static List<Path> goldens() throws IOException {
        List<Path> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(Fixtures.golden(), "text_encoder_f*.safetensors")) {
            for (Path p : ds) {
                out.add(p);
            }
        }
        out.sort(null);
        return out;
    }

    private static DataType dtypeOf(Path golden) {
        String n = golden.getFileName().toString();
        if (n.contains("_f64")) {
            return DataType.FLOAT64;
        }
        if (n.contains("_f32")) {
            return DataType.FLOAT32;
        }
        throw new IllegalArgumentException("no precision in golden name " + n);
    }

    private static double tolerance(DataType dt) {
        return dt == DataType.FLOAT64 ? 1e-6 : 1e-4;
    }

    private static Path textEncoderDir() {
        return Fixtures.model().resolve("text_encoder");
    }

    @Test
    void goldensArePresent() throws IOException {
        List<Path> g = goldens();
        assertFalse(g.isEmpty(), "no text_encoder_f*.safetensors in " + Fixtures.golden());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("goldens")
    void matchesGolden(Path golden) throws IOException {
        DataType dt = dtypeOf(golden);
        double tol = tolerance(dt);
        try (ClipTextModel model = ClipTextModel.load(textEncoderDir(), null, ComputeContext.cpu(dt));
             Safetensors st = Safetensors.open(golden);
             NDManager m = DjlRuntime.engine().newBaseManager()) {
            NDArray ids = st.load("input_ids", m, null);
            NDArray refH0 = st.load("hidden_state_0", m, null);
            NDArray refPen = st.load("penultimate_hidden_state", m, null);
            NDArray refLast = st.load("last_hidden_state", m, null);
            assertEquals(dt, refLast.getDataType(), "golden precision");

            NDList hs = model.hiddenStates(ids);
            assertEquals(model.numLayers() + 1, hs.size());
            ClipTextModel.Output out = model.forward(ids);
            NDArray skip0 = model.encode(ids, 0);
            assertEquals(dt, out.lastHiddenState().getDataType());

            double eH0 = Fixtures.relL2(hs.get(0), refH0);
            double ePen = Fixtures.relL2(out.penultimateHiddenState(), refPen);
            double eLast = Fixtures.relL2(out.lastHiddenState(), refLast);
            double ePenAll = Fixtures.relL2(hs.get(hs.size() - 2), refPen);
            double eSkip0 = Fixtures.relL2(skip0, refLast);
            System.out.printf(Locale.ROOT, "[text_encoder parity] %s (%s): hidden_state_0 %.3e, "
                            + "penultimate_hidden_state %.3e, last_hidden_state %.3e (hiddenStates()[-2] %.3e, "
                            + "encode(ids, 0) %.3e), tolerance %.0e%n", golden.getFileName(), dt, eH0, ePen, eLast,
                    ePenAll, eSkip0, tol);
            assertTrue(eH0 < tol, "hidden_state_0 rel L2 " + eH0);
            assertTrue(ePen < tol, "penultimate_hidden_state rel L2 " + ePen);
            assertTrue(eLast < tol, "last_hidden_state rel L2 " + eLast);
            assertTrue(ePenAll < tol, "hiddenStates()[-2] rel L2 " + ePenAll);
            assertTrue(eSkip0 < tol, "encode(ids, 0) rel L2 " + eSkip0);

            // clip skip 1 = final_layer_norm(hidden_states[-2]), anchored on the golden penultimate state
            try (Safetensors weights = Safetensors.open(textEncoderDir().resolve("model.safetensors"))) {
                NDArray lnW = weights.load("final_layer_norm.weight", m, dt);
                NDArray lnB = weights.load("final_layer_norm.bias", m, dt);
                NDArray expected = Ops.layerNorm(refPen, lnW, lnB, 1e-5);
                double eSkip1 = Fixtures.relL2(model.encode(ids, 1), expected);
                System.out.printf(Locale.ROOT, "[text_encoder parity] %s: encode(ids, 1) vs "
                        + "final_layer_norm(golden penultimate) %.3e%n", golden.getFileName(), eSkip1);
                assertTrue(eSkip1 < tol, "encode(ids, 1) rel L2 " + eSkip1);
            }

            // Causality: the first k positions of a shorter input equal the golden's first k positions.
            int k = 12;
            NDArray shortIds = ids.get(":, 0:" + k);
            ClipTextModel.Output part = model.forward(shortIds);
            double ePart = Fixtures.relL2(part.lastHiddenState(), refLast.get(":, 0:" + k));
            System.out.printf(Locale.ROOT, "[text_encoder parity] %s: first %d tokens alone, last_hidden_state "
                    + "%.3e%n", golden.getFileName(), k, ePart);
            assertTrue(ePart < tol, "prefix of " + k + " tokens rel L2 " + ePart);
        }
    }

    /** A transformers-4.x style copy (every key under text_model., plus the int64 position_ids buffer). */
    @Test
    void legacyPrefixedCheckpointGivesIdenticalOutput(@TempDir Path dir) throws IOException {
        Path src = textEncoderDir();
        Path legacy = Files.createDirectories(dir.resolve("text_encoder"));
        Files.copy(src.resolve("config.json"), legacy.resolve("config.json"));
        int positions;
        try (Safetensors st = Safetensors.open(src.resolve("model.safetensors"))) {
            assertFalse(st.keys().stream().anyMatch(k -> k.startsWith("text_model.")), "fixture already prefixed");
            positions = (int) st.info("embeddings.position_embedding.weight").shape()[0];
            SafetensorsWriter w = new SafetensorsWriter();
            long[] pos = new long[positions];
            for (int i = 0; i < positions; i++) {
                pos[i] = i;
            }
            w.addInt64("text_model.embeddings.position_ids", new long[] {1, positions}, pos);
            for (String key : st.keys()) {
                w.copy(st, key, "text_model." + key, st.info(key).shape());
            }
            w.write(legacy.resolve("model.safetensors"));
        }
        try (Safetensors st = Safetensors.open(legacy.resolve("model.safetensors"))) {
            assertTrue(st.keys().contains("text_model.encoder.layers.0.self_attn.q_proj.weight"));
            assertEquals("I64", st.info("text_model.embeddings.position_ids").dtype());
        }
        Path golden = Fixtures.golden().resolve("text_encoder_f32.safetensors");
        try (ClipTextModel plain = ClipTextModel.load(src, null, ComputeContext.cpu());
             ClipTextModel prefixed = ClipTextModel.load(legacy, null, ComputeContext.cpu());
             Safetensors st = Safetensors.open(golden);
             NDManager m = DjlRuntime.engine().newBaseManager()) {
            NDArray ids = st.load("input_ids", m, null);
            ClipTextModel.Output a = plain.forward(ids);
            ClipTextModel.Output b = prefixed.forward(ids);
            assertArrayEquals(a.lastHiddenState().toFloatArray(), b.lastHiddenState().toFloatArray());
            assertArrayEquals(a.penultimateHiddenState().toFloatArray(), b.penultimateHiddenState().toFloatArray());
            assertTrue(Fixtures.relL2(b.lastHiddenState(), st.load("last_hidden_state", m, null)) < 1e-4);
        }
    }

    @Test
    void unsupportedActivationFailsNamingFileAndKey(@TempDir Path dir) throws IOException {
        Path src = textEncoderDir();
        Path te = Files.createDirectories(dir.resolve("text_encoder"));
        Files.copy(src.resolve("model.safetensors"), te.resolve("model.safetensors"));
        String cfg = Files.readString(src.resolve("config.json")).replace("\"quick_gelu\"", "\"relu\"");
        assertTrue(cfg.contains("\"relu\""));
        Files.writeString(te.resolve("config.json"), cfg);
        ModelLoadException e = assertThrows(ModelLoadException.class,
                () -> ClipTextModel.load(te, null, ComputeContext.cpu()));
        assertTrue(e.getMessage().contains("hidden_act") && e.getMessage().contains(te.resolve("config.json").toString())
                && e.getMessage().contains("relu"), e.getMessage());
    }

    @Test
    void weightShapeMismatchFailsNamingFileAndKey(@TempDir Path dir) throws IOException {
        Path src = textEncoderDir();
        Path te = Files.createDirectories(dir.resolve("text_encoder"));
        Files.copy(src.resolve("model.safetensors"), te.resolve("model.safetensors"));
        // a config that claims a wider MLP than the weights have
        String cfg = Files.readString(src.resolve("config.json")).replace("\"intermediate_size\": 37",
                "\"intermediate_size\": 64");
        assertTrue(cfg.contains("64"));
        Files.writeString(te.resolve("config.json"), cfg);
        ModelLoadException e = assertThrows(ModelLoadException.class,
                () -> ClipTextModel.load(te, null, ComputeContext.cpu()));
        assertTrue(e.getMessage().contains("encoder.layers.0.mlp.fc1.weight")
                && e.getMessage().contains("model.safetensors"), e.getMessage());
    }

    @Test
    void rejectsTooLongInputAndBadClipSkip() throws IOException {
        try (ClipTextModel model = ClipTextModel.load(textEncoderDir(), null, ComputeContext.cpu());
             NDManager m = DjlRuntime.engine().newBaseManager()) {
            NDArray tooLong = m.zeros(new ai.djl.ndarray.types.Shape(1, model.maxPositionEmbeddings() + 1),
                    DataType.INT64);
            assertThrows(IllegalArgumentException.class, () -> model.forward(tooLong));
            NDArray ok = m.zeros(new ai.djl.ndarray.types.Shape(1, 4), DataType.INT64);
            assertThrows(IllegalArgumentException.class, () -> model.encode(ok, model.numLayers()));
            assertEquals(4, model.encode(ok, model.numLayers() - 1).getShape().get(1));
        }
    }
}
