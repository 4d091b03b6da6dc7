package dev.sdcfg.model.ldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.guidance.GuidanceSpec;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.model.io.Weights;
import dev.sdcfg.pipeline.CheckpointLoader;
import dev.sdcfg.pipeline.GenerationListener;
import dev.sdcfg.pipeline.GenerationRequest;
import dev.sdcfg.pipeline.LoraWeight;
import dev.sdcfg.pipeline.PipelineOptions;
import dev.sdcfg.pipeline.StableDiffusionPipeline;
import dev.sdcfg.pipeline.image.PngEncoder;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.Fixtures;
import dev.sdcfg.testutil.LdmFixture;
import dev.sdcfg.testutil.SafetensorsWriter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SDXL single files ({@code conditioner.embedders.0.transformer.*} CLIP ViT-L, {@code conditioner.embedders.1.model.*}
 * OpenCLIP bigG with fused q/k/v and {@code text_projection}, {@code model.diffusion_model.*} with {@code label_emb})
 * against diffusers' own conversion code ({@code tools/singlefile-goldens/gen_openclip.py sdxl}): the tiny SDXL folder
 * of {@code parity-extra/sdxl} written in SDXL's single-file layout, then converted here. Every component's diffusers
 * key → tensor map must equal what {@code single_file_utils.convert_ldm_unet_checkpoint}, {@code
 * convert_ldm_vae_checkpoint}, {@code convert_ldm_clip_checkpoint} and {@code convert_open_clip_checkpoint} give,
 * the inferred configs the folder's, and the pipeline loaded from the file must draw the folder's images bit for bit.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SdxlSingleFileCheckpointTest {

    private JsonObject golden;
    private Path dir;
    private Path folder;
    private Path ldmFile;

    @BeforeAll
    void writeLdmFile() throws IOException {
        DjlRuntime.engine();
        golden = LdmFixture.golden("sdxl_conversion.json");
        dir = Files.createTempDirectory("sdxl-single-file-");
        folder = Fixtures.resource("parity-extra/sdxl").resolve("model");
        ldmFile = dir.resolve("tinyxl.safetensors");
        LdmFixture.writeLdm(ldmFile, golden.getAsJsonObject("ldm"), Map.of(
                "unet", folder.resolve("unet/diffusion_pytorch_model.safetensors"),
                "vae", folder.resolve("vae/diffusion_pytorch_model.safetensors"),
                "text_encoder", folder.resolve("text_encoder/model.safetensors"),
                "text_encoder_2", folder.resolve("text_encoder_2/model.safetensors")));
        // What the tiny model's weights cannot tell and differs from SDXL base: its own small vocabulary (the bundled
        // CLIP one has 49408 tokens, its embeddings 814 rows), GroupNorm groups, sizes, head counts
        JsonObject side = new JsonObject();
        side.addProperty("tokenizer", folder.resolve("tokenizer").toAbsolutePath().toString());
        side.addProperty("tokenizer_2", folder.resolve("tokenizer_2").toAbsolutePath().toString());
        side.add("unet", JsonParser.parseString("{\"norm_num_groups\": 8, \"sample_size\": 8,"
                + " \"attention_head_dim\": [1, 2, 2]}"));
        side.add("vae", JsonParser.parseString("{\"norm_num_groups\": 4, \"sample_size\": 64}"));
        side.add("text_encoder", JsonParser.parseString("{\"num_attention_heads\": 4}"));
        side.add("text_encoder_2", JsonParser.parseString("{\"num_attention_heads\": 5}"));
        Files.writeString(dir.resolve("tinyxl.json"), side.toString());
    }

    @AfterAll
    void cleanUp() throws IOException {
        try (Stream<Path> files = Files.walk(dir)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }

    @Test
    void conversionEqualsDiffusersSingleFileUtils() {
        try (SingleFileCheckpoint ckpt = SingleFileCheckpoint.open(ldmFile);
             NDManager m = NDManager.newBaseManager()) {
            assertEquals(SingleFileCheckpoint.Family.SDXL, ckpt.family());
            Map<String, Weights> views = Map.of("unet", ckpt.unetWeights(), "vae", ckpt.vaeWeights(),
                    "text_encoder", ckpt.textEncoderWeights(), "text_encoder_2", ckpt.textEncoder2Weights());
            JsonObject conv = golden.getAsJsonObject("converted");
            assertEquals(new TreeSet<>(conv.keySet()), new TreeSet<>(views.keySet()));
            int checked = 0;
            for (String c : views.keySet()) {
                JsonObject want = conv.getAsJsonObject(c);
                Weights w = views.get(c);
                assertEquals(new TreeSet<>(want.keySet()), new TreeSet<>(w.keys()), c + " keys");
                for (String k : want.keySet()) {
                    JsonObject t = want.getAsJsonObject(k);
                    if (c.equals("text_encoder_2")) { // q/k/v cut from in_proj, text_projection transposed
                        assertArrayEquals(LdmFixture.shape(t), w.shapeOf(k), c + "/" + k);
                    }
                    try (NDArray a = w.get(k, m, DataType.FLOAT32, LdmFixture.shape(t))) {
                        ByteBuffer bytes = ByteBuffer.wrap(a.toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
                        assertEquals(t.get("sha256").getAsString(), LdmFixture.sha256(bytes), c + "/" + k);
                    }
                    checked++;
                }
                w.requireAllUsed("every converted tensor was checked");
            }
            assertEquals(548 + 180 + 52 + 53, checked);
            assertTrue(ckpt.otherKeys().isEmpty(), ckpt.otherKeys().toString()); // SDXL reads every bigG layer
        }
    }

    @Test
    void inferredConfigsMatchTheFolder() throws IOException {
        try (SingleFileCheckpoint ckpt = SingleFileCheckpoint.open(ldmFile)) {
            JsonObject unet = read("unet/config.json");
            for (String k : new String[] {"in_channels", "out_channels", "block_out_channels", "down_block_types",
                    "up_block_types", "layers_per_block", "cross_attention_dim", "attention_head_dim",
                    "mid_block_type", "use_linear_projection", "norm_num_groups", "sample_size",
                    "transformer_layers_per_block", "addition_embed_type", "addition_time_embed_dim",
                    "projection_class_embeddings_input_dim"}) {
                assertEquals(unet.get(k), ckpt.unetConfig().json().get(k), "unet " + k);
            }
            JsonObject vae = read("vae/config.json");
            for (String k : new String[] {"in_channels", "out_channels", "latent_channels", "block_out_channels",
                    "layers_per_block", "norm_num_groups", "scaling_factor", "force_upcast"}) {
                var want = vae.get(k);
                var got = ckpt.vaeConfig().json().get(k);
                if (want.isJsonPrimitive() && want.getAsJsonPrimitive().isNumber()) {
                    assertEquals(want.getAsDouble(), got.getAsDouble(), "vae " + k); // 4 vs 4.0
                } else {
                    assertEquals(want, got, "vae " + k);
                }
            }
            for (String te : new String[] {"text_encoder", "text_encoder_2"}) {
                JsonObject want = read(te + "/config.json");
                JsonObject got = te.equals("text_encoder") ? ckpt.textEncoderConfig().json()
                        : ckpt.textEncoder2Config().json();
                for (String k : new String[] {"hidden_size", "num_hidden_layers", "intermediate_size", "vocab_size",
                        "max_position_embeddings", "num_attention_heads", "hidden_act"}) {
                    assertEquals(want.get(k), got.get(k), te + " " + k);
                }
            }
            assertEquals(24, ckpt.textEncoder2Config().json().get("projection_dim").getAsInt());
            JsonObject sched = read("scheduler/scheduler_config.json");
            for (String k : sched.keySet()) {
                if (!k.startsWith("_")) {
                    assertEquals(sched.get(k), ckpt.schedulerConfig().json().get(k), "scheduler " + k);
                }
            }
            assertTrue(ckpt.forceZerosForEmptyPrompt());
        }
    }

    private JsonObject read(String rel) throws IOException {
        return JsonParser.parseString(Files.readString(folder.resolve(rel))).getAsJsonObject();
    }

    @Test
    void theSingleFileDrawsTheFoldersImages() {
        // the model's own sampler (Euler, SDXL base's config); an empty negative prompt is zeros
        // (force_zeros_for_empty_prompt), the micro-conditioning from the size
        for (String negative : new String[] {"blurry, low quality", ""}) {
            GenerationRequest req = new GenerationRequest("a watercolor painting of a lighthouse", negative, 64, 48, 4,
                    null, null, GuidanceSpec.parse("5"), 42L, 1);
            BufferedImage fromFolder;
            BufferedImage fromFile;
            try (StableDiffusionPipeline p = StableDiffusionPipeline.load(folder, ComputeContext.cpu(),
                    PipelineOptions.defaults())) {
                fromFolder = PngEncoder.decode(p.generate(req, GenerationListener.NONE).images().get(0).png());
            }
            try (StableDiffusionPipeline p = CheckpointLoader.load(ldmFile, ComputeContext.cpu(),
                    PipelineOptions.defaults())) {
                assertEquals("tinyxl", p.modelInfo().id());
                assertTrue(p.sdxlTokenizer2() != null);
                fromFile = PngEncoder.decode(p.generate(req, GenerationListener.NONE).images().get(0).png());
            }
            assertArrayEquals(fromFolder.getRGB(0, 0, 64, 48, null, 0, 64), fromFile.getRGB(0, 0, 64, 48, null, 0, 64),
                    "negative '" + negative + "'");
        }
    }

    @Test
    void aKohyaLoraOnTheSingleFileDrawsWhatItDrawsOnTheFolder() {
        // text_encoder_2's q_proj is cut from the fused in_proj and patched after the cut (tools/lora-goldens sdxl)
        GenerationRequest req = new GenerationRequest("a watercolor painting of a lighthouse", "blurry", 64, 48, 3,
                null, null, GuidanceSpec.parse("5"), 7L, 1);
        List<LoraWeight> set = List.of(new LoraWeight("kohya", 0.7));
        Path loras = Fixtures.resource("parity-extra/lora/sdxl");
        int[][] drawn = new int[2][];
        Path[] models = {folder, ldmFile};
        for (int i = 0; i < 2; i++) {
            try (StableDiffusionPipeline p = CheckpointLoader.load(models[i], ComputeContext.cpu(),
                    PipelineOptions.defaults(), set, name -> loras.resolve(name + ".safetensors"))) {
                drawn[i] = PngEncoder.decode(p.generate(req, GenerationListener.NONE).images().get(0).png())
                        .getRGB(0, 0, 64, 48, null, 0, 64);
            }
        }
        assertArrayEquals(drawn[0], drawn[1]);
    }

    @Test
    void anIncompleteSecondEncoderFailsNamingFileAndKey() throws IOException {
        // without text_projection there are no pooled embeds; a label_emb whose width is not pooled + 6 time ids
        String proj = LdmKeys.SDXL_OPEN_CLIP_PREFIX + "text_projection";
        String label = LdmKeys.UNET_PREFIX + "label_emb.0.0.weight";
        try (Safetensors in = Safetensors.open(ldmFile)) {
            for (String drop : new String[] {proj, label}) {
                Path out = dir.resolve("bad-" + (drop.equals(proj) ? "proj" : "label") + ".safetensors");
                SafetensorsWriter w = new SafetensorsWriter();
                for (String k : in.keys()) {
                    if (!k.equals(drop)) {
                        w.copy(in, k, k, in.info(k).shape());
                    } else if (k.equals(label)) { // one input short
                        long[] s = in.info(k).shape();
                        w.put(k, new long[] {s[0], s[1] - 1}, new float[(int) (s[0] * (s[1] - 1))]);
                    }
                }
                w.write(out);
                ModelLoadException e = assertThrows(ModelLoadException.class, () -> SingleFileCheckpoint.open(out));
                assertTrue(e.getMessage().contains(out.getFileName().toString()) && e.getMessage().contains(drop),
                        e.getMessage());
            }
        }
    }

    @Test
    void aSidecarTokenizerThatIsNoFolderFailsNamingTheSidecar() throws IOException {
        Path bad = dir.resolve("bad.json");
        Files.writeString(bad, "{\"tokenizer_2\": \"no-such-folder\"}");
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> SingleFileSidecar.read(bad));
        assertTrue(e.getMessage().contains("bad.json") && e.getMessage().contains("tokenizer_2"), e.getMessage());
    }
}
