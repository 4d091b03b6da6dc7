package dev.sdcfg.model.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class UNet2DConditionModelTest {

    private static Path demoUnet() {
        return Fixtures.resource("random-model").resolve("unet");
    }

    private static NDManager cpu() {
        return NDManager.newBaseManager(DjlRuntime.engine().defaultDevice());
    }

    /** The test-side key generator reproduces the demo checkpoint exactly (so it can stand in for SD2-style ones). */
    @Test
    void generatorMatchesDemoCheckpoint() throws IOException {
        TinyUNetFolder f = new TinyUNetFolder();
        f.blockOutChannels = new int[] {16, 32, 32, 32};
        f.attentionHeadDim = new int[] {8, 8, 8, 8};
        f.crossAttentionDim = 32;
        f.useLinearProjection = false;
        Map<String, String> expected = new TreeMap<>();
        try (Safetensors st = Safetensors.open(demoUnet().resolve("diffusion_pytorch_model.safetensors"))) {
            for (String k : st.keys()) {
                expected.put(k, Arrays.toString(st.info(k).shape()));
            }
        }
        Map<String, String> generated = new TreeMap<>();
        f.shapes().forEach((k, v) -> generated.put(k, Arrays.toString(v)));
        assertEquals(expected, generated);
    }

    @Test
    void demoModelUsesEveryCheckpointTensor() throws IOException {
        int stored;
        try (Safetensors st = Safetensors.open(demoUnet().resolve("diffusion_pytorch_model.safetensors"))) {
            stored = st.keys().size();
        }
        try (UNet2DConditionModel unet = UNet2DConditionModel.load(demoUnet(), ComputeContext.cpu(), null, 0)) {
            assertEquals(stored, unet.parameterCount());
            UNetConfig c = unet.config();
            assertEquals(4, c.inChannels());
            assertEquals(16, c.sampleSize());
            assertEquals(32, c.crossAttentionDim());
            assertEquals(8, c.numAttentionHeads().get(0));
            assertFalse(c.useLinearProjection());
        }
    }

    /**
     * SD 2.x style config (use_linear_projection, list attention_head_dim meaning heads per block, upcast_attention,
     * cross_attention_dim ≠ channels) with random weights: loads every tensor, runs on non-square latents and
     * keeps batch rows independent.
     */
    @Test
    void sd2StyleConfigRunsOnNonSquareLatents(@TempDir Path dir) throws IOException {
        TinyUNetFolder f = TinyUNetFolder.sd2Style();
        int tensors = f.write(dir, 7);
        try (NDManager m = cpu();
             UNet2DConditionModel unet = UNet2DConditionModel.load(dir, ComputeContext.cpu(), null, 0)) {
            assertEquals(tensors, unet.parameterCount(), "every checkpoint tensor is used");
            assertTrue(unet.config().useLinearProjection());
            assertTrue(unet.config().upcastAttention());
            assertEquals(List.of(1, 2, 3, 3), unet.config().numAttentionHeads());
            DjlRuntime.seed(3);
            NDArray ctx = m.randomNormal(new Shape(2, 77, 24));
            // 24×40 is a multiple of 8; 20×36 is not, and only works because upsampling follows the skip sizes.
            for (long[] hw : new long[][] {{24, 40}, {20, 36}}) {
                NDArray x = m.randomNormal(new Shape(2, 4, hw[0], hw[1]));
                NDArray t = m.create(new float[] {981f, 981f});
                NDArray out = unet.forward(x, t, ctx);
                assertEquals(new Shape(2, 4, hw[0], hw[1]), out.getShape());
                assertEquals(DataType.FLOAT32, out.getDataType());
                float[] v = out.toFloatArray();
                double sumSq = 0;
                for (float a : v) {
                    assertTrue(Float.isFinite(a), "finite output");
                    sumSq += a * a;
                }
                assertTrue(sumSq > 0, "non-zero output");

                // a 0-dim timestep is broadcast to the batch: same result as [B]
                NDArray out0 = unet.forward(x, m.create(981f), ctx);
                assertTrue(Fixtures.relL2(out0, out) <= 1e-7, "0-dim timestep");

                // each batch row alone gives the same result as inside the batch
                for (int i = 0; i < 2; i++) {
                    String row = i + ":" + (i + 1);
                    NDArray single = unet.forward(x.get(row), m.create(new float[] {981f}), ctx.get(row));
                    double err = Fixtures.relL2(single, out.get(row));
                    assertTrue(err <= 1e-5, "batch row " + i + " alone vs in batch: " + err);
                }
            }
        }
    }

    /** Attention slicing bounds memory without changing the result (fp32 ≤ 1e-6; fp64 checks the logic tightly). */
    @Test
    void attentionSlicingGivesTheSameOutput(@TempDir Path dir) throws IOException {
        TinyUNetFolder.sd2Style().write(dir, 11);
        for (Path unetDir : new Path[] {dir, demoUnet()}) {
            for (DataType dt : new DataType[] {DataType.FLOAT32, DataType.FLOAT64}) {
                double tol = dt == DataType.FLOAT64 ? 1e-12 : 1e-6;
                ComputeContext cc = ComputeContext.cpu(dt);
                try (NDManager m = cpu(); UNet2DConditionModel full = UNet2DConditionModel.load(unetDir, cc, null, 0)) {
                    int cross = full.config().crossAttentionDim();
                    DjlRuntime.seed(5);
                    NDArray x = m.randomNormal(new Shape(2, 4, 16, 24)).toType(dt, false);
                    NDArray ctx = m.randomNormal(new Shape(2, 77, cross)).toType(dt, false);
                    NDArray t = m.create(500L);
                    NDArray ref = full.forward(x, t, ctx);
                    for (int slice : new int[] {1, 3}) {
                        try (UNet2DConditionModel sliced = UNet2DConditionModel.load(unetDir, cc, null, slice)) {
                            double err = Fixtures.relL2(sliced.forward(x, t, ctx), ref);
                            System.out.printf("[unet slicing] %s %s slice %d relL2 %.3e%n",
                                    unetDir.getFileName(), dt, slice, err);
                            assertTrue(err <= tol, dt + " slice " + slice + ": " + err);
                        }
                    }
                }
            }
        }
    }

    /** 100 forwards leave the engine's live NDArray count exactly where it was. */
    @Test
    void repeatedForwardsDoNotLeakArrays() {
        try (NDManager m = cpu();
             UNet2DConditionModel unet = UNet2DConditionModel.load(demoUnet(), ComputeContext.cpu(), null, 0)) {
            DjlRuntime.seed(1);
            NDArray x = m.randomNormal(new Shape(1, 4, 16, 16));
            NDArray ctx = m.randomNormal(new Shape(1, 77, 32));
            NDArray t = m.create(999L);
            unet.forward(x, t, ctx).close(); // warm-up: lazily created per-shape constants (GroupNorm affine)
            int modelBefore = unet.manager().getManagedArrays().size();
            int callerBefore = m.getManagedArrays().size();
            int engineBefore = liveArrays();
            for (int i = 0; i < 100; i++) {
                Map<String, NDArray> rec = i % 10 == 0 ? new LinkedHashMap<>() : null;
                NDArray out = unet.forward(x, t, ctx, rec);
                out.close();
                if (rec != null) {
                    rec.values().forEach(NDArray::close);
                }
            }
            // results belong to the caller's enclosing scope: closing it frees them
            for (int i = 0; i < 10; i++) {
                try (NDScope outer = new NDScope()) {
                    outer.suppressNotUsedWarning();
                    unet.forward(x, t, ctx, new LinkedHashMap<>());
                }
            }
            assertEquals(modelBefore, unet.manager().getManagedArrays().size(), "model manager");
            assertEquals(callerBefore, m.getManagedArrays().size(), "caller manager");
            assertEquals(engineBefore, liveArrays(), "all managers of the engine");
        }
    }

    /**
     * Cross-attention keys/values are computed once per context tensor: a second forward on the same context gives
     * the same numbers with fewer ops; another context, or one whose manager has closed, is computed afresh.
     */
    @Test
    void crossAttentionKeysAndValuesAreComputedOncePerContext() {
        try (NDManager m = cpu();
             UNet2DConditionModel unet = UNet2DConditionModel.load(demoUnet(), ComputeContext.cpu(), null, 0);
             UNet2DConditionModel fresh = UNet2DConditionModel.load(demoUnet(), ComputeContext.cpu(), null, 0)) {
            DjlRuntime.seed(2);
            NDArray x = m.randomNormal(new Shape(2, 4, 16, 16));
            NDArray ctxA = m.randomNormal(new Shape(2, 77, 32));
            NDArray ctxB = m.randomNormal(new Shape(2, 77, 32));
            NDArray t = m.create(500L);
            dev.sdcfg.runtime.OpCounter.start();
            float[] first = unet.forward(x, t, ctxA).toFloatArray();
            long opsFirst = dev.sdcfg.runtime.OpCounter.stop();
            dev.sdcfg.runtime.OpCounter.start();
            float[] second = unet.forward(x, t, ctxA).toFloatArray();
            long opsSecond = dev.sdcfg.runtime.OpCounter.stop();
            assertArrayEquals(first, second, 0f);
            assertTrue(opsSecond < opsFirst, opsSecond + " ops with cached keys/values vs " + opsFirst);

            float[] withB = unet.forward(x, t, ctxB).toFloatArray();
            assertArrayEquals(fresh.forward(x, t, ctxB).toFloatArray(), withB, 0f);
            assertFalse(java.util.Arrays.equals(first, withB));

            try (NDManager job = cpu()) {
                NDArray ctxCopy = ctxA.duplicate();
                ctxCopy.attach(job);
                assertArrayEquals(first, unet.forward(x, t, ctxCopy).toFloatArray(), 0f);
            } // the cache of ctxCopy is freed with its manager
            assertArrayEquals(first, unet.forward(x, t, ctxA).toFloatArray(), 0f);
        }
    }

    /** Live arrays in every manager of the engine (the system manager's tree). */
    private static int liveArrays() {
        try (NDManager probe = NDManager.newBaseManager(DjlRuntime.engine().defaultDevice())) {
            return probe.getParentManager().getManagedArrays().size();
        }
    }

    /** Config variants SD configs use beyond the demo's: each loads every tensor and runs. */
    @Test
    void configVariantsLoadAndRun(@TempDir Path dir) throws IOException {
        runVariant(dir.resolve("a"), f -> {
            f.scaleShift = true;
            f.extra.put("center_input_sample", true);
            f.extra.put("mid_block_scale_factor", 1.4142);
            f.extra.put("freq_shift", 1);
            f.extra.put("flip_sin_to_cos", false);
        });
        runVariant(dir.resolve("b"), f -> {
            f.attentionHeadDim = new int[] {2, 2, 2, 2};
            f.blockOutChannels = new int[] {16, 32, 32, 32};
            f.useLinearProjection = false;
            f.upcastAttention = false;
            f.transformerLayersPerBlock = 2;
            f.layersPerBlock = 1;
            f.extra.put("attention_head_dim", 2);
            f.extra.put("downsample_padding", 0);
        });
        runVariant(dir.resolve("c"), f -> {
            f.layersPerBlockList = new int[] {1, 2, 1, 2};
            f.transformerLayersList = new int[] {2, 1, 1, 3};
            f.convInKernel = 1;
            f.convOutKernel = 5;
        });
    }

    private static void runVariant(Path dir, Consumer<TinyUNetFolder> edit) throws IOException {
        TinyUNetFolder f = TinyUNetFolder.sd2Style();
        edit.accept(f);
        int tensors = f.write(dir, 13);
        try (NDManager m = cpu();
             UNet2DConditionModel unet = UNet2DConditionModel.load(dir, ComputeContext.cpu(), null, 0)) {
            assertEquals(tensors, unet.parameterCount());
            DjlRuntime.seed(9);
            NDArray out = unet.forward(m.randomNormal(new Shape(1, 4, 16, 8)), m.create(250L),
                    m.randomNormal(new Shape(1, 7, 24)));
            assertEquals(new Shape(1, 4, 16, 8), out.getShape());
            for (float a : out.toFloatArray()) {
                assertTrue(Float.isFinite(a));
            }
        }
    }

    @Test
    void rejectsUnsupportedConfigNamingFileAndKey(@TempDir Path dir) throws IOException {
        Object[][] cases = {
            {"class_embed_type", "timestep"},
            {"addition_embed_type", "image"}, // Kandinsky-style; text_time (SDXL) is supported
            {"time_cond_proj_dim", 256},
            {"dual_cross_attention", true},
            {"num_attention_heads", 8},
            {"resnet_time_scale_shift", "ada_group"},
            {"time_embedding_type", "fourier"},
            {"attention_type", "gated"},
            {"mid_block_type", "UNetMidBlock2DSimpleCrossAttn"},
            {"down_block_types", new String[] {"CrossAttnDownBlock2D", "SimpleCrossAttnDownBlock2D", "CrossAttnDownBlock2D",
                "DownBlock2D"}},
            {"transformer_layers_per_block", new int[][] {{1}, {1}, {1}, {1}}},
            {"attention_head_dim", new int[] {1, 2, 5, 3}},
        };
        int i = 0;
        for (Object[] c : cases) {
            Path d = dir.resolve("c" + i++);
            TinyUNetFolder f = TinyUNetFolder.sd2Style();
            f.extra.put((String) c[0], c[1]);
            f.write(d, 1);
            ModelLoadException e = assertThrows(ModelLoadException.class,
                    () -> UNet2DConditionModel.load(d, ComputeContext.cpu(), null, 0).close(), (String) c[0]);
            String msg = e.getMessage();
            assertTrue(msg.contains("config.json") && msg.contains("'" + c[0] + "'"), msg);
        }
    }
}
