package dev.sdcfg.model.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.Fixtures;
import dev.sdcfg.testutil.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Loading variants of the tiny VAE: legacy attention names, non-square latents, config errors, scaling. */
class VaeLoadingTest {

    private static Path vaeDir() {
        return Fixtures.model().resolve("vae");
    }

    private static Path weightsFile() throws IOException {
        try (var files = Files.list(vaeDir())) {
            return files.filter(p -> p.getFileName().toString().endsWith(".safetensors")).sorted().findFirst()
                    .orElseThrow();
        }
    }

    /**
     * Copies the VAE into {@code dir}, with the config edited by {@code editConfig} and each tensor renamed /
     * reshaped by {@code rename} (return null to drop a key).
     */
    private static Path copyVae(Path dir, Consumer<JsonObject> editConfig, Renamer rename) throws IOException {
        Path out = Files.createDirectories(dir.resolve("vae"));
        JsonObject cfg = JsonParser.parseString(Files.readString(vaeDir().resolve("config.json"))).getAsJsonObject();
        editConfig.accept(cfg);
        Files.writeString(out.resolve("config.json"), cfg.toString(), StandardCharsets.UTF_8);
        SafetensorsWriter w = new SafetensorsWriter();
        try (Safetensors st = Safetensors.open(weightsFile())) {
            for (String k : st.keys()) {
                Object[] renamed = rename.apply(k, st.info(k).shape());
                if (renamed != null) {
                    w.copy(st, k, (String) renamed[0], (long[]) renamed[1]);
                }
            }
        }
        w.write(out.resolve("diffusion_pytorch_model.safetensors"));
        return out;
    }

    @FunctionalInterface
    private interface Renamer {
        /** @return {newKey, newShape} or null to drop */
        Object[] apply(String key, long[] shape);
    }

    private static NDArray goldenLatents(NDManager m) throws IOException {
        try (Safetensors g = Safetensors.open(Fixtures.golden().resolve("vae_f32.safetensors"))) {
            return g.load("latents", m, DataType.FLOAT32);
        }
    }

    @Test
    void legacyAttentionNamesAs1x1ConvWeightsDecodeIdentically(@TempDir Path tmp) throws IOException {
        String[][] renames = {{".to_q.", ".query."}, {".to_k.", ".key."}, {".to_v.", ".value."},
                {".to_out.0.", ".proj_attn."}};
        Path legacy = copyVae(tmp, c -> { }, (k, shape) -> {
            if (!k.contains(".mid_block.attentions.")) {
                return new Object[] {k, shape};
            }
            for (String[] r : renames) {
                if (k.contains(r[0])) {
                    long[] s = shape.length == 2 ? new long[] {shape[0], shape[1], 1, 1} : shape;
                    return new Object[] {k.replace(r[0], r[1]), s};
                }
            }
            return new Object[] {k, shape};
        });
        try (Safetensors st = Safetensors.open(legacy.resolve("diffusion_pytorch_model.safetensors"))) {
            assertFalse(st.keys().stream().anyMatch(k -> k.contains(".to_q.") || k.contains(".to_out.")),
                    "the copy must hold only legacy names");
            assertArrayEquals(new long[] {32, 32, 1, 1},
                    st.info("decoder.mid_block.attentions.0.query.weight").shape());
            assertTrue(st.contains("encoder.mid_block.attentions.0.proj_attn.bias"));
        }
        ComputeContext ctx = ComputeContext.cpu(DataType.FLOAT32);
        try (NDManager m = DjlRuntime.engine().newBaseManager();
             AutoencoderKL modern = AutoencoderKL.load(vaeDir(), ctx, null);
             AutoencoderKL old = AutoencoderKL.load(legacy, ctx, null)) {
            NDArray z = goldenLatents(m);
            float[] a = modern.decode(z).toFloatArray();
            float[] b = old.decode(z).toFloatArray();
            assertEquals(3 * 128 * 128, a.length);
            assertArrayEquals(a, b, 0f, "legacy-named weights must decode bit-identically");
            NDArray image = m.randomUniform(-1f, 1f, new Shape(1, 3, 64, 64));
            assertArrayEquals(modern.encodeMoments(image).toFloatArray(), old.encodeMoments(image).toFloatArray(), 0f);
        }
    }

    @Test
    void nonSquareLatentsDecodeToMatchingImage() {
        try (NDManager m = DjlRuntime.engine().newBaseManager();
             AutoencoderKL vae = AutoencoderKL.load(vaeDir(), ComputeContext.cpu(), null)) {
            assertEquals(8, vae.downscaleFactor());
            NDArray z = m.randomNormal(new Shape(1, 4, 8, 12));
            NDArray img = vae.decode(z);
            assertEquals(new Shape(1, 3, 64, 96), img.getShape());
            assertTrue(img.isInfinite().logicalOr(img.isNaN()).none().getBoolean(), "decode must be finite");
            NDArray moments = vae.encodeMoments(img);
            assertEquals(new Shape(1, 8, 8, 12), moments.getShape());
            // batch 2 of an odd latent size (not a power of two) works too, row by row identical to batch 1
            NDArray z2 = m.randomNormal(new Shape(2, 4, 5, 7));
            NDArray img2 = vae.decode(z2);
            assertEquals(new Shape(2, 3, 40, 56), img2.getShape());
            double rel = Fixtures.relL2(img2.get("1:2"), vae.decode(z2.get("1:2")));
            assertTrue(rel < 1e-5, "batch rows decode independently, relL2 " + rel);
        }
    }

    @Test
    void exposesScalingForThePipeline(@TempDir Path tmp) throws IOException {
        try (AutoencoderKL vae = AutoencoderKL.load(vaeDir(), ComputeContext.cpu(), null)) {
            assertEquals(0.18215, vae.scalingFactor(), 0.0);
            assertEquals(0.0, vae.shiftFactor(), 0.0);
            assertFalse(vae.config().hasShiftFactor());
            assertTrue(vae.forceUpcast());
            assertTrue(vae.hasEncoder());
            assertEquals(DataType.FLOAT32, vae.dtype());
        }
        VaeConfig cfg = VaeConfig.read(copyVae(tmp, c -> {
            c.addProperty("scaling_factor", 0.3611);
            c.addProperty("shift_factor", 0.1159);
            c.addProperty("force_upcast", false);
        }, (k, s) -> new Object[] {k, s}).resolve("config.json"));
        assertEquals(0.3611, cfg.scalingFactor(), 0.0);
        assertEquals(0.1159, cfg.shiftFactor(), 0.0);
        assertTrue(cfg.hasShiftFactor());
        // force_upcast decides whether an fp16 pipeline runs this VAE in fp32
        ComputeContext fp16 = new ComputeContext(ai.djl.Device.gpu(), DataType.FLOAT16);
        assertEquals(DataType.FLOAT16, AutoencoderKL.contextFor(cfg, fp16).dtype());
        assertEquals(DataType.FLOAT32,
                AutoencoderKL.contextFor(VaeConfig.read(vaeDir().resolve("config.json")), fp16).dtype());
    }

    @Test
    void decoderOnlyCheckpointLoads(@TempDir Path tmp) throws IOException {
        Path dir = copyVae(tmp, c -> { }, (k, s) -> k.startsWith("encoder.") || k.startsWith("quant_conv.")
                ? null : new Object[] {k, s});
        try (NDManager m = DjlRuntime.engine().newBaseManager();
             AutoencoderKL vae = AutoencoderKL.load(dir, ComputeContext.cpu(), null)) {
            assertFalse(vae.hasEncoder());
            assertEquals(new Shape(1, 3, 32, 32), vae.decode(m.zeros(new Shape(1, 4, 4, 4))).getShape());
            assertThrows(IllegalStateException.class, () -> vae.encodeMoments(m.zeros(new Shape(1, 3, 32, 32))));
        }
    }

    @Test
    void unsupportedConfigValuesNameFileAndKey(@TempDir Path tmp) throws IOException {
        List<Object[]> cases = List.of(
                new Object[] {"up_block_types", (Consumer<JsonObject>) c -> {
                    JsonArray a = c.getAsJsonArray("up_block_types");
                    a.set(1, new com.google.gson.JsonPrimitive("AttnUpDecoderBlock2D"));
                }},
                new Object[] {"down_block_types", (Consumer<JsonObject>) c -> c.getAsJsonArray("down_block_types")
                        .remove(0)},
                new Object[] {"act_fn", (Consumer<JsonObject>) c -> c.addProperty("act_fn", "gelu")},
                new Object[] {"_class_name", (Consumer<JsonObject>) c -> c.addProperty("_class_name", "AutoencoderTiny")},
                new Object[] {"norm_num_groups", (Consumer<JsonObject>) c -> c.addProperty("norm_num_groups", 5)},
                new Object[] {"latents_mean", (Consumer<JsonObject>) c -> {
                    JsonArray a = new JsonArray();
                    a.add(0.1);
                    c.add("latents_mean", a);
                }});
        int i = 0;
        for (Object[] cs : cases) {
            @SuppressWarnings("unchecked")
            Consumer<JsonObject> edit = (Consumer<JsonObject>) cs[1];
            Path dir = copyVae(tmp.resolve("c" + i++), edit, (k, s) -> new Object[] {k, s});
            ModelLoadException e = assertThrows(ModelLoadException.class,
                    () -> AutoencoderKL.load(dir, ComputeContext.cpu(), null), (String) cs[0]);
            assertTrue(e.getMessage().contains(dir.resolve("config.json").toString()), e.getMessage());
            assertTrue(e.getMessage().contains("'" + cs[0] + "'"), e.getMessage());
        }
    }

    @Test
    void configThatDoesNotMatchTheWeightsFailsNamingFileAndKey(@TempDir Path tmp) throws IOException {
        // fewer layers than the checkpoint has: the extra resnets must not be silently ignored
        Path fewer = copyVae(tmp.resolve("a"), c -> c.addProperty("layers_per_block", 1), (k, s) -> new Object[] {k, s});
        ModelLoadException e = assertThrows(ModelLoadException.class,
                () -> AutoencoderKL.load(fewer, ComputeContext.cpu(), null));
        assertTrue(e.getMessage().contains("resnets.") && e.getMessage().contains("diffusion_pytorch_model"),
                e.getMessage());
        // attention switched off while the checkpoint has it
        Path noAttn = copyVae(tmp.resolve("b"), c -> c.addProperty("mid_block_add_attention", false),
                (k, s) -> new Object[] {k, s});
        e = assertThrows(ModelLoadException.class, () -> AutoencoderKL.load(noAttn, ComputeContext.cpu(), null));
        assertTrue(e.getMessage().contains("attentions.0"), e.getMessage());
        // a missing tensor
        Path noWeight = copyVae(tmp.resolve("d"), c -> { }, (k, s) -> k.equals("decoder.conv_out.weight")
                ? null : new Object[] {k, s});
        e = assertThrows(ModelLoadException.class, () -> AutoencoderKL.load(noWeight, ComputeContext.cpu(), null));
        assertTrue(e.getMessage().contains("decoder.conv_out.weight") && e.getMessage().contains(noWeight.toString()),
                e.getMessage());
        // a mis-shaped tensor
        Path badShape = copyVae(tmp.resolve("e"), c -> c.addProperty("latent_channels", 2),
                (k, s) -> new Object[] {k, s});
        e = assertThrows(ModelLoadException.class, () -> AutoencoderKL.load(badShape, ComputeContext.cpu(), null));
        assertTrue(e.getMessage().contains("shape") && e.getMessage().contains(badShape.toString()), e.getMessage());
    }
}
