package dev.sdcfg.model.unet;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.config.JsonConfig;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.model.io.Weights;
import dev.sdcfg.model.nn.Ops;
import dev.sdcfg.model.nn.ParamLoader;
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
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The UNet config keys beyond the demo model's: each one is either implemented as diffusers' UNet2DConditionModel
 * does it (structure checked against {@link TinyUNetFolder}'s independent key generator, numerics in fp64 against a
 * computation written here), accepted because it cannot change this model, or refused naming file and key.
 */
class UNetConfigKeysTest {

    private static final ComputeContext FP64 = ComputeContext.cpu(DataType.FLOAT64);
    private static final Gson GSON = new GsonBuilder().serializeNulls().setPrettyPrinting().create();

    private static NDManager cpu() {
        return NDManager.newBaseManager(DjlRuntime.engine().defaultDevice());
    }

    /** Loads {@code dir}, checks every checkpoint tensor is used (none missing, none left over), runs it once. */
    private static UNetConfig loadUsesEveryTensorAndRuns(Path dir, int tensors) {
        try (NDManager m = cpu(); UNet2DConditionModel unet = UNet2DConditionModel.load(dir, ComputeContext.cpu(), null, 0)) {
            assertEquals(tensors, unet.parameterCount(), "every checkpoint tensor is used");
            DjlRuntime.seed(9);
            NDArray out = unet.forward(m.randomNormal(new Shape(1, 4, 16, 8)), m.create(250L),
                    m.randomNormal(new Shape(1, 7, unet.config().contextDim())));
            assertEquals(new Shape(1, 4, 16, 8), out.getShape());
            for (float a : out.toFloatArray()) {
                assertTrue(Float.isFinite(a));
            }
            return unet.config();
        }
    }

    /** Copies a UNet folder and edits its config.json. */
    private static Path variant(Path src, Path dst, Consumer<JsonObject> edit) throws IOException {
        Files.createDirectories(dst);
        Files.copy(src.resolve("diffusion_pytorch_model.safetensors"), dst.resolve("diffusion_pytorch_model.safetensors"));
        return editConfig(src, dst, edit);
    }

    /** {@link #variant} whose checkpoint leaves out the tensors under {@code dropPrefix} (the edited config has none). */
    private static Path variantWithout(Path src, Path dst, Consumer<JsonObject> edit, String dropPrefix)
            throws IOException {
        Files.createDirectories(dst);
        SafetensorsWriter w = new SafetensorsWriter();
        try (Safetensors st = Safetensors.open(src.resolve("diffusion_pytorch_model.safetensors"))) {
            for (String k : st.keys()) {
                if (!k.startsWith(dropPrefix)) {
                    w.copy(st, k, k, st.info(k).shape());
                }
            }
        }
        w.write(dst.resolve("diffusion_pytorch_model.safetensors"));
        return editConfig(src, dst, edit);
    }

    private static Path editConfig(Path src, Path dst, Consumer<JsonObject> edit) throws IOException {
        JsonObject cfg = JsonParser.parseString(Files.readString(src.resolve("config.json"))).getAsJsonObject();
        edit.accept(cfg);
        Files.writeString(dst.resolve("config.json"), GSON.toJson(cfg), StandardCharsets.UTF_8);
        return dst;
    }

    /**
     * One fp64 forward with fixed inputs (context [2, 5, ctxDim], optionally mapped before the UNet sees it); the
     * recorded intermediates, when asked for, are attached to {@code keep}.
     */
    private static double[] run(Path dir, Map<String, NDArray> record, NDManager keep,
                                java.util.function.UnaryOperator<NDArray> ctxMap, int ctxDim) {
        try (NDManager m = cpu(); UNet2DConditionModel unet = UNet2DConditionModel.load(dir, FP64, null, 0)) {
            DjlRuntime.seed(17);
            NDArray x = m.randomNormal(new Shape(2, 4, 8, 16)).toType(DataType.FLOAT64, false);
            NDArray ctx = m.randomNormal(new Shape(2, 5, ctxDim)).toType(DataType.FLOAT64, false);
            NDArray t = m.create(new float[] {37f, 801f});
            NDArray out = unet.forward(x, t, ctxMap == null ? ctx : ctxMap.apply(ctx), record);
            if (record != null) {
                record.values().forEach(v -> v.attach(keep));
            }
            return out.toDoubleArray();
        }
    }

    // ------------------------------------------------------------------ transformer_layers_per_block

    /**
     * Nested transformer_layers_per_block with reverse_transformer_layers_per_block (diffusers' asymmetric UNet):
     * down block i attention j has depth [i][j], the mid block takes the last entry's first element, up block i
     * attention j has reverse[i][j]. A depth of 0 is legal (norm, proj_in, proj_out only).
     */
    @Test
    void perLayerTransformerDepthsFollowDiffusers(@TempDir Path dir) throws IOException {
        TinyUNetFolder f = TinyUNetFolder.sd2Style();
        f.transformerLayersNested = new int[][] {{1, 2}, {0, 1}, {2, 1}, {2, 5}};
        f.reverseTransformerLayers = new int[][] {{4, 4, 4}, {2, 0, 1}, {1, 2, 1}, {0, 1, 3}};
        int tensors = f.write(dir, 3);
        UNetConfig c = loadUsesEveryTensorAndRuns(dir, tensors);
        assertEquals(2, c.downTransformerLayers().get(0).get(1));
        assertEquals(0, c.downTransformerLayers().get(1).get(0));
        assertEquals(2, c.midTransformerLayers());
        assertEquals(3, c.upTransformerLayers().get(3).get(2));
        assertEquals(0, c.upTransformerLayers().get(1).get(1));
    }

    /** A flat list is per down block; without a reverse list the up blocks take it reversed (SDXL's form). */
    @Test
    void flatTransformerDepthsAreReversedForUpBlocks(@TempDir Path dir) throws IOException {
        TinyUNetFolder f = TinyUNetFolder.sd2Style();
        f.transformerLayersList = new int[] {1, 2, 3, 1};
        int tensors = f.write(dir, 4);
        UNetConfig c = loadUsesEveryTensorAndRuns(dir, tensors);
        for (int j = 0; j < 3; j++) {
            assertEquals(3, c.upTransformerLayers().get(1).get(j)); // up block 1 ↔ down block 2
            assertEquals(1, c.upTransformerLayers().get(3).get(j));
        }
        assertEquals(1, c.midTransformerLayers());

        // An int with a reverse list: the down blocks take the int, the up blocks the reverse entries.
        TinyUNetFolder g = TinyUNetFolder.sd2Style();
        g.transformerLayersPerBlock = 2;
        g.reverseTransformerLayers = new int[][] {{1, 1, 1}, {1, 1, 1}, {3, 1, 2}, {1, 2, 1}};
        Path d2 = dir.resolve("int-with-reverse");
        loadUsesEveryTensorAndRuns(d2, g.write(d2, 5));
    }

    // ------------------------------------------------------------------ only_cross_attention

    /** only_cross_attention per block: attn1 of those blocks projects k/v from the context (up blocks reversed). */
    @Test
    void onlyCrossAttentionListBuildsDiffusersStructure(@TempDir Path dir) throws IOException {
        TinyUNetFolder f = TinyUNetFolder.sd2Style();
        f.onlyCrossAttention = new boolean[] {true, false, true, false};
        int tensors = f.write(dir, 6);
        UNetConfig c = loadUsesEveryTensorAndRuns(dir, tensors);
        assertTrue(c.onlyCrossAttention().get(0));
        assertFalse(c.onlyCrossAttention().get(1));

        TinyUNetFolder all = TinyUNetFolder.sd2Style();
        all.onlyCrossAttention = new boolean[] {true, true, true, true};
        all.extra.put("only_cross_attention", true); // the boolean form applies to every block
        Path d2 = dir.resolve("bool");
        loadUsesEveryTensorAndRuns(d2, all.write(d2, 7));
    }

    /**
     * BasicTransformerBlock against a reference written here from the raw weights (fp64): with
     * only_cross_attention attn1 attends to the context; without, to the block's own tokens.
     */
    @Test
    void onlyCrossAttentionBlockMatchesReference(@TempDir Path dir) throws IOException {
        long ch = 24;
        int cross = 20;
        int heads = 3;
        for (boolean onlyCross : new boolean[] {false, true}) {
            TinyUNetFolder f = new TinyUNetFolder();
            f.crossAttentionDim = cross;
            Map<String, long[]> shapes = new LinkedHashMap<>();
            f.transformer(shapes, "t", ch, 1, onlyCross);
            Path file = dir.resolve("t" + onlyCross + ".safetensors");
            TinyUNetFolder.writeRandom(shapes, file, 31);
            try (Safetensors st = Safetensors.open(file); NDManager m = cpu()) {
                Weights w = Weights.of(st);
                String pre = "t.transformer_blocks.0.";
                ParamLoader p = new ParamLoader(w, m, DataType.FLOAT64, pre);
                BasicTransformerBlock block = new BasicTransformerBlock(p, ch, heads, ch / heads, cross, onlyCross,
                        false, 0);
                DjlRuntime.seed(8);
                NDArray x = m.randomNormal(new Shape(2, 12, ch)).toType(DataType.FLOAT64, false);
                NDArray ctx = m.randomNormal(new Shape(2, 7, cross)).toType(DataType.FLOAT64, false);
                Ref r = new Ref(w, m, pre);
                NDArray h = x.add(r.attention(r.layerNorm(x, "norm1"), onlyCross ? ctx : null, "attn1", heads));
                h = h.add(r.attention(r.layerNorm(h, "norm2"), ctx, "attn2", heads));
                NDArray ref = h.add(r.geglu(r.layerNorm(h, "norm3")));
                double err = Fixtures.relL2(block.forward(x, ctx), ref);
                System.out.printf("[only_cross_attention=%s] block vs reference relL2 %.3e%n", onlyCross, err);
                assertTrue(err < 1e-12, "only_cross_attention=" + onlyCross + ": " + err);
            }
        }
    }

    /** diffusers' BasicTransformerBlock (layer_norm, no attention bias, GEGLU) from raw weights, in plain ops. */
    private record Ref(Weights w, NDManager m, String prefix) {
        NDArray p(String key) {
            return w.get(prefix + key, m, DataType.FLOAT64);
        }

        NDArray linear(NDArray x, String name) {
            NDArray y = x.matMul(p(name + ".weight").transpose());
            return w.has(prefix + name + ".bias") ? y.add(p(name + ".bias")) : y;
        }

        NDArray layerNorm(NDArray x, String name) {
            NDArray mean = x.mean(new int[] {-1}, true);
            NDArray var = x.sub(mean).square().mean(new int[] {-1}, true);
            return x.sub(mean).div(var.add(1e-5).sqrt()).mul(p(name + ".weight")).add(p(name + ".bias"));
        }

        NDArray attention(NDArray x, NDArray context, String name, int heads) {
            NDArray kv = context == null ? x : context;
            long b = x.getShape().get(0);
            long n = x.getShape().get(1);
            long mm = kv.getShape().get(1);
            NDArray q = linear(x, name + ".to_q");
            long inner = q.getShape().get(2);
            long d = inner / heads;
            q = q.reshape(b, n, heads, d).transpose(0, 2, 1, 3);
            NDArray k = linear(kv, name + ".to_k").reshape(b, mm, heads, d).transpose(0, 2, 1, 3);
            NDArray v = linear(kv, name + ".to_v").reshape(b, mm, heads, d).transpose(0, 2, 1, 3);
            NDArray probs = q.matMul(k.transpose(0, 1, 3, 2)).div(Math.sqrt(d)).softmax(-1);
            NDArray o = probs.matMul(v).transpose(0, 2, 1, 3).reshape(b, n, inner);
            return linear(o, name + ".to_out.0");
        }

        NDArray geglu(NDArray x) {
            NDArray proj = linear(x, "ff.net.0.proj");
            long half = proj.getShape().get(2) / 2;
            NDArray a = proj.get(":, :, 0:" + half);
            NDArray gate = proj.get(":, :, " + half + ":");
            return linear(a.mul(Ops.gelu(gate)), "ff.net.2");
        }
    }

    // ------------------------------------------------------------------ mid_block_type

    /** get_mid_block("UNetMidBlock2D") has num_layers=0 and no attention: just mid_block.resnets.0; null: none. */
    @Test
    void midBlockTypesBuildDiffusersStructure(@TempDir Path dir) throws IOException {
        TinyUNetFolder plain = TinyUNetFolder.sd2Style();
        plain.midBlockType = "UNetMidBlock2D";
        plain.extra.put("mid_block_scale_factor", 1.5);
        Path a = dir.resolve("plain");
        assertEquals("UNetMidBlock2D", loadUsesEveryTensorAndRuns(a, plain.write(a, 8)).midBlockType());

        TinyUNetFolder none = TinyUNetFolder.sd2Style();
        none.midBlockType = null;
        Path b = dir.resolve("none");
        assertNull(loadUsesEveryTensorAndRuns(b, none.write(b, 8)).midBlockType());
    }

    /** The plain mid block is resnets.0 with output_scale_factor: (shortcut + h) / mid_block_scale_factor. */
    @Test
    void plainMidBlockIsOneScaledResnet(@TempDir Path dir) throws IOException {
        TinyUNetFolder f = TinyUNetFolder.sd2Style();
        f.midBlockType = "UNetMidBlock2D";
        f.extra.put("mid_block_scale_factor", 1.5);
        f.write(dir, 12);
        Path unscaled = variant(dir, dir.resolve("unscaled"), c -> c.addProperty("mid_block_scale_factor", 1));
        Map<String, NDArray> r15 = new LinkedHashMap<>();
        Map<String, NDArray> r1 = new LinkedHashMap<>();
        try (NDManager keep = cpu()) {
            run(dir, r15, keep, null, 24);
            run(unscaled, r1, keep, null, 24);
        // same input to the mid block, output exactly 1/1.5 of the unscaled one
            assertTrue(Fixtures.relL2(r15.get("down_blocks.3"), r1.get("down_blocks.3")) == 0);
            double err = Fixtures.relL2(r15.get("mid_block"), r1.get("mid_block").div(1.5));
            assertTrue(err < 1e-14, "mid block scale: " + err);
        }
    }

    // ------------------------------------------------------------------ encoder_hid_dim

    /**
     * encoder_hid_dim (encoder_hid_dim_type null → diffusers' "text_proj"): the UNet takes contexts of width
     * encoder_hid_dim and applies encoder_hid_proj (a Linear to cross_attention_dim) first. Checked as: the same
     * weights without the key, given context·Wᵀ + b computed here, give the same output.
     */
    @Test
    void encoderHidProjProjectsTheContextFirst(@TempDir Path dir) throws IOException {
        TinyUNetFolder f = TinyUNetFolder.sd2Style();
        f.encoderHidDim = 12;
        int tensors = f.write(dir, 14);
        assertEquals(12, loadUsesEveryTensorAndRuns(dir, tensors).contextDim());
        Path explicit = variant(dir, dir.resolve("explicit"), c -> c.addProperty("encoder_hid_dim_type", "text_proj"));
        Path without = variantWithout(dir, dir.resolve("without"), c -> c.remove("encoder_hid_dim"),
                "encoder_hid_proj.");
        double[] withProj = run(dir, null, null, null, 12);
        assertArrayEqualsExactly(withProj, run(explicit, null, null, null, 12));
        try (Safetensors st = Safetensors.open(dir.resolve("diffusion_pytorch_model.safetensors")); NDManager m = cpu()) {
            NDArray w = st.load("encoder_hid_proj.weight", m, DataType.FLOAT64);
            NDArray b = st.load("encoder_hid_proj.bias", m, DataType.FLOAT64);
            double[] manual = run(without, null, null, ctx -> ctx.matMul(w.transpose()).add(b), 12);
            double err = Fixtures.relL2(withProj, manual);
            System.out.printf("[encoder_hid_proj] vs projecting the context by hand relL2 %.3e%n", err);
            assertTrue(err < 1e-13, "encoder_hid_proj: " + err);
        }
    }

    // ------------------------------------------------------------------ time embedding activations

    /**
     * timestep_post_act acts inside TimestepEmbedding (after linear_2, so the recorded time_embedding includes it);
     * time_embedding_act_fn acts on the embedding before the blocks. Without class or added embeddings both give the
     * same model output; with neither the output differs.
     */
    @Test
    void timeEmbeddingActivationsFollowDiffusers(@TempDir Path dir) throws IOException {
        TinyUNetFolder.sd2Style().write(dir, 15);
        for (String act : new String[] {"silu", "gelu", "relu"}) {
            Path post = variant(dir, dir.resolve("post-" + act), c -> c.addProperty("timestep_post_act", act));
            Path embAct = variant(dir, dir.resolve("act-" + act), c -> c.addProperty("time_embedding_act_fn", act));
            Map<String, NDArray> rec = new LinkedHashMap<>();
            NDManager keep = cpu();
            double[] a = run(post, rec, keep, null, 24);
            double[] b = run(embAct, null, null, null, 24);
            assertArrayEqualsExactly(a, b);
            assertTrue(Fixtures.relL2(a, run(dir, null, null, null, 24)) > 1e-3, act + " changes the output");

            // time_embedding = act(linear_2(silu(linear_1(time_proj)))) from the raw weights
            try (Safetensors st = Safetensors.open(dir.resolve("diffusion_pytorch_model.safetensors"));
                 NDManager m = cpu()) {
                NDArray tp = rec.get("time_proj");
                NDArray h = tp.matMul(st.load("time_embedding.linear_1.weight", m, DataType.FLOAT64).transpose())
                        .add(st.load("time_embedding.linear_1.bias", m, DataType.FLOAT64));
                h = h.mul(h.neg().exp().add(1).pow(-1));
                h = h.matMul(st.load("time_embedding.linear_2.weight", m, DataType.FLOAT64).transpose())
                        .add(st.load("time_embedding.linear_2.bias", m, DataType.FLOAT64));
                NDArray ref = switch (act) {
                    case "silu" -> h.mul(h.neg().exp().add(1).pow(-1));
                    case "gelu" -> h.mul(0.5).mul(h.div(Math.sqrt(2)).erf().add(1));
                    default -> h.maximum(0);
                };
                double err = Fixtures.relL2(rec.get("time_embedding"), ref);
                assertTrue(err < 1e-14, act + " post act: " + err);
            }
            keep.close();
        }
    }

    // ------------------------------------------------------------------ harmless keys

    /**
     * Keys that cannot change this model (dropout at inference; knobs only SimpleCrossAttn / ResnetDownsample
     * blocks, text_time or projection class embeddings read; unknown keys, which diffusers ignores too) load and
     * give a bit-identical output.
     */
    @Test
    void harmlessKeysAreAcceptedAndChangeNothing(@TempDir Path dir) throws IOException {
        TinyUNetFolder.sd2Style().write(dir, 16);
        Path noisy = variant(dir, dir.resolve("noisy"), c -> {
            c.addProperty("dropout", 0.1);
            c.addProperty("resnet_skip_time_act", true);
            c.addProperty("resnet_out_scale_factor", 2.0);
            c.addProperty("cross_attention_norm", "group_norm");
            c.addProperty("mid_block_only_cross_attention", true);
            c.addProperty("addition_time_embed_dim", 256);
            c.addProperty("addition_embed_type_num_heads", 32);
            c.addProperty("projection_class_embeddings_input_dim", 2816);
            c.add("sample_size", JsonParser.parseString("[96, 64]"));
            c.addProperty("_name_or_path", "somewhere/else");
            c.add("_use_default_values", JsonParser.parseString("[\"dropout\"]"));
            c.addProperty("some_future_key", 3);
            c.add("encoder_hid_dim", null);
            c.add("encoder_hid_dim_type", null);
            c.add("time_embedding_dim", null);
            c.add("num_attention_heads", null);
            c.add("class_embed_type", null);
        });
        assertArrayEqualsExactly(run(dir, null, null, null, 24), run(noisy, null, null, null, 24));
    }

    /** An explicit null reaches diffusers' __init__ as None: falsy for flags, fatal for sizes (refused here). */
    @Test
    void explicitNullsReadAsDiffusersReadsThem() {
        JsonConfig flags = JsonConfig.parse("unet/config.json", "{\"flip_sin_to_cos\": null, \"upcast_attention\": null,"
                + " \"center_input_sample\": null, \"use_linear_projection\": null}");
        UNetConfig c = UNetConfig.from(flags);
        assertFalse(c.flipSinToCos(), "None is falsy: [sin, cos] order");
        assertFalse(c.upcastAttention());
        assertTrue(UNetConfig.from(JsonConfig.parse("unet/config.json", "{}")).flipSinToCos());
        for (String key : new String[] {"cross_attention_dim", "attention_head_dim", "layers_per_block", "freq_shift",
            "norm_eps", "transformer_layers_per_block", "only_cross_attention", "downsample_padding"}) {
            ModelLoadException e = assertThrows(ModelLoadException.class,
                    () -> UNetConfig.from(JsonConfig.parse("unet/config.json", "{\"" + key + "\": null}")), key);
            assertTrue(e.getMessage().contains("unet/config.json") && e.getMessage().contains("'" + key + "'"),
                    e.getMessage());
        }
    }

    // ------------------------------------------------------------------ refused keys

    @Test
    void unimplementedValuesAreRefusedNamingFileAndKey(@TempDir Path dir) throws IOException {
        Object[][] cases = {
            {"time_embedding_act_fn", "mish"},
            {"timestep_post_act", "mish"},
            {"act_fn", "gelu"},
            {"encoder_hid_dim_type", "text_image_proj"},
            {"encoder_hid_dim_type", "image_proj"},
            {"encoder_hid_dim_type", "text_proj"}, // without encoder_hid_dim: diffusers raises too
            {"class_embeddings_concat", true},
            {"num_class_embeds", 10},
            {"mid_block_type", "UNetMidBlock2DSimpleCrossAttn"},
            {"up_block_types", new String[] {"UpBlock2D", "SimpleCrossAttnUpBlock2D", "CrossAttnUpBlock2D",
                "CrossAttnUpBlock2D"}},
            {"reverse_transformer_layers_per_block", new int[][] {{1, 1, 1}, {1, 1, 1}}},
            {"reverse_transformer_layers_per_block", new int[][] {{1, 1, 1}, {1, 1, 1}, {1, 1}, {1, 1, 1}}},
            {"transformer_layers_per_block", new int[][] {{1, 1}, {1}, {1, 1}, {1, 1}}},
            {"only_cross_attention", new boolean[] {true, false}},
            {"norm_num_groups", null},
            {"time_embedding_type", "fourier"},
            {"conv_in_kernel", 4},
        };
        int i = 0;
        for (Object[] c : cases) {
            Path d = dir.resolve("c" + i++);
            TinyUNetFolder f = TinyUNetFolder.sd2Style();
            f.extra.put((String) c[0], c[1]);
            if (c[0].equals("transformer_layers_per_block")) {
                f.reverseTransformerLayers = new int[][] {{1, 1, 1}, {1, 1, 1}, {1, 1, 1}, {1, 1, 1}};
            }
            f.write(d, 1);
            ModelLoadException e = assertThrows(ModelLoadException.class,
                    () -> UNet2DConditionModel.load(d, ComputeContext.cpu(), null, 0).close(), c[0] + "=" + c[1]);
            String msg = e.getMessage();
            System.out.println("[refused] " + msg);
            assertTrue(msg.contains("config.json") && msg.contains("'" + c[0] + "'"), msg);
        }
    }

    private static void assertArrayEqualsExactly(double[] a, double[] b) {
        assertEquals(a.length, b.length);
        for (int i = 0; i < a.length; i++) {
            if (Double.compare(a[i], b[i]) != 0) {
                throw new AssertionError("element " + i + ": " + a[i] + " != " + b[i]);
            }
        }
    }
}
