package dev.sdcfg.model.ldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.guidance.GuidanceSpec;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.model.io.Weights;
import dev.sdcfg.pipeline.CheckpointLoader;
import dev.sdcfg.pipeline.GenerationListener;
import dev.sdcfg.pipeline.GenerationRequest;
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
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Single-file (LDM layout) checkpoints against diffusers' own conversion code
 * ({@code tools/singlefile-goldens}): the tiny model is written in the layout diffusers'
 * {@code convert_diffusers_to_original_stable_diffusion.py} produces (the golden's "ldm" side), then converted here;
 * every component's diffusers key → tensor map must equal what {@code single_file_utils.convert_ldm_*_checkpoint}
 * gives (same keys, shapes, bytes), and the pipeline loaded from the file must draw the folder's images bit for bit.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SingleFileCheckpointTest {

    private JsonObject golden;
    private Path dir;
    private Path ldmFile;

    @BeforeAll
    void writeLdmFile() throws IOException {
        DjlRuntime.engine();
        golden = LdmFixture.golden();
        dir = Files.createTempDirectory("ldm-single-file-");
        ldmFile = LdmFixture.write(dir, "tiny");
    }

    @AfterAll
    void cleanUp() throws IOException {
        try (var s = Files.list(dir)) {
            for (Path p : s.toList()) {
                Files.deleteIfExists(p);
            }
        }
        Files.deleteIfExists(dir);
    }

    private static long[] shape(JsonObject t) {
        return LdmFixture.shape(t);
    }

    private static String sha256(ByteBuffer b) {
        return LdmFixture.sha256(b);
    }

    @Test
    void conversionEqualsDiffusersSingleFileUtils() {
        try (SingleFileCheckpoint ckpt = SingleFileCheckpoint.open(ldmFile);
             NDManager m = NDManager.newBaseManager()) {
            assertEquals(SingleFileCheckpoint.Family.SD1, ckpt.family());
            Map<String, Weights> views = Map.of("unet", ckpt.unetWeights(), "vae", ckpt.vaeWeights(),
                    "text_encoder", ckpt.textEncoderWeights());
            JsonObject conv = golden.getAsJsonObject("converted");
            int checked = 0;
            for (String c : views.keySet()) {
                JsonObject want = conv.getAsJsonObject(c);
                Weights w = views.get(c);
                assertEquals(new TreeSet<>(want.keySet()), new TreeSet<>(w.keys()), c + " keys");
                for (String k : want.keySet()) {
                    JsonObject t = want.getAsJsonObject(k);
                    try (NDArray a = w.get(k, m, DataType.FLOAT32, shape(t))) {
                        assertArrayEquals(shape(t), a.getShape().getShape(), c + "/" + k);
                        ByteBuffer bytes = ByteBuffer.wrap(a.toByteArray()).order(ByteOrder.LITTLE_ENDIAN);
                        assertEquals(t.get("sha256").getAsString(), sha256(bytes), c + "/" + k);
                    }
                    checked++;
                }
                w.requireAllUsed("every converted tensor was checked");
            }
            assertEquals(980, checked);
            assertTrue(ckpt.otherKeys().isEmpty(), ckpt.otherKeys().toString());
        }
    }

    @Test
    void inferredConfigsMatchTheFolder() throws IOException {
        try (SingleFileCheckpoint ckpt = SingleFileCheckpoint.open(ldmFile)) {
            JsonObject folder = JsonParser.parseString(Files.readString(
                    Fixtures.model().resolve("unet/config.json"))).getAsJsonObject();
            for (String k : new String[] {"in_channels", "out_channels", "block_out_channels", "down_block_types",
                    "up_block_types", "layers_per_block", "cross_attention_dim", "attention_head_dim",
                    "mid_block_type", "use_linear_projection", "norm_num_groups", "sample_size"}) {
                assertEquals(folder.get(k), ckpt.unetConfig().json().get(k), "unet " + k);
            }
            JsonObject vae = JsonParser.parseString(Files.readString(
                    Fixtures.model().resolve("vae/config.json"))).getAsJsonObject();
            for (String k : new String[] {"in_channels", "out_channels", "latent_channels", "block_out_channels",
                    "layers_per_block", "norm_num_groups", "scaling_factor", "mid_block_add_attention"}) {
                JsonElement want = vae.get(k);
                JsonElement got = ckpt.vaeConfig().json().get(k);
                if (want.isJsonPrimitive() && want.getAsJsonPrimitive().isNumber()) {
                    assertEquals(want.getAsDouble(), got.getAsDouble(), "vae " + k); // 4 vs 4.0
                } else {
                    assertEquals(want, got, "vae " + k);
                }
            }
            JsonObject te = JsonParser.parseString(Files.readString(
                    Fixtures.model().resolve("text_encoder/config.json"))).getAsJsonObject();
            for (String k : new String[] {"hidden_size", "num_hidden_layers", "intermediate_size", "vocab_size",
                    "max_position_embeddings", "num_attention_heads", "hidden_act"}) {
                assertEquals(te.get(k), ckpt.textEncoderConfig().json().get(k), "text_encoder " + k);
            }
        }
    }

    @Test
    void theSingleFileDrawsTheFoldersImages() {
        GenerationRequest req = new GenerationRequest("a lighthouse at dusk", "fog", 64, 64, 4, "euler", null,
                GuidanceSpec.parse("7.5"), 42L, 1);
        BufferedImage fromFolder;
        BufferedImage fromFile;
        try (StableDiffusionPipeline p = StableDiffusionPipeline.load(Fixtures.model(), ComputeContext.cpu(),
                PipelineOptions.defaults())) {
            fromFolder = PngEncoder.decode(p.generate(req, GenerationListener.NONE).images().get(0).png());
        }
        try (StableDiffusionPipeline p = CheckpointLoader.load(ldmFile, ComputeContext.cpu(),
                PipelineOptions.defaults())) {
            assertEquals("tiny", p.modelInfo().id());
            assertEquals(128, p.nativeSize());
            fromFile = PngEncoder.decode(p.generate(req, GenerationListener.NONE).images().get(0).png());
        }
        assertArrayEquals(fromFolder.getRGB(0, 0, 64, 64, null, 0, 64), fromFile.getRGB(0, 0, 64, 64, null, 0, 64));
    }

    @Test
    void pickleFilesAreRefusedWithTheConversionCommand() throws IOException {
        Path ckpt = dir.resolve("model.ckpt");
        Files.write(ckpt, new byte[] {(byte) 0x80, 2, '}', 'q', 0, '.'}); // a pickle: never opened
        ModelLoadException e = assertThrows(ModelLoadException.class,
                () -> CheckpointLoader.load(ckpt, ComputeContext.cpu(), PipelineOptions.defaults()));
        assertTrue(e.getMessage().contains("pickle") && e.getMessage().contains("model.safetensors"), e.getMessage());
        assertTrue(e.getMessage().contains("st.save_file"), e.getMessage());
    }

    @Test
    void sidecarUnknownKeysAndBadValuesFailNamingTheFile() throws IOException {
        Path f = dir.resolve("bad.json");
        Files.writeString(f, "{\"prediction_typ\": \"v_prediction\"}");
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> SingleFileSidecar.read(f));
        assertTrue(e.getMessage().contains("bad.json") && e.getMessage().contains("prediction_typ"), e.getMessage());
        Files.writeString(f, "{\"prediction_type\": \"v\"}");
        e = assertThrows(ModelLoadException.class, () -> SingleFileSidecar.read(f));
        assertTrue(e.getMessage().contains("'prediction_type'"), e.getMessage());
        Files.writeString(f, "{\"clip_skip\": -1}");
        assertThrows(ModelLoadException.class, () -> SingleFileSidecar.read(f));
    }

    @Test
    void ldmYamlSidecarSaysVPrediction() throws IOException {
        Path y = dir.resolve("v.yaml");
        Files.writeString(y, "model:\n  target: ldm.models.diffusion.ddpm.LatentDiffusion\n  params:\n"
                + "    parameterization: \"v\"\n    scale_factor: 0.18215\n", StandardCharsets.UTF_8);
        SingleFileSidecar s = SingleFileSidecar.read(y);
        JsonObject sched = s.apply("scheduler", new JsonObject());
        assertEquals("v_prediction", sched.get("prediction_type").getAsString());
        Path own = dir.resolve("own.yaml");
        Files.writeString(own, "prediction_type: v_prediction\nclip_skip: 2\nunet:\n  upcast_attention: true\n");
        SingleFileSidecar o = SingleFileSidecar.read(own);
        assertEquals(2, o.clipSkip());
        assertEquals("v_prediction", o.apply("scheduler", new JsonObject()).get("prediction_type").getAsString());
        assertTrue(o.apply("unet", new JsonObject()).get("upcast_attention").getAsBoolean());
    }

    @Test
    void nonCheckpointsAndIncompleteCheckpointsAreRefused() throws IOException {
        Path lora = dir.resolve("lora.safetensors");
        new SafetensorsWriter().put("lora_unet_down_blocks_0_attentions_0_proj_in.lora_down.weight",
                new long[] {1, 1}, new float[] {1f}).write(lora);
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> SingleFileCheckpoint.open(lora));
        assertTrue(e.getMessage().contains("not a Stable Diffusion checkpoint"), e.getMessage());
        Path xl = dir.resolve("xl.safetensors");
        new SafetensorsWriter().put("model.diffusion_model.input_blocks.0.0.weight", new long[] {1}, new float[] {1f})
                .put("conditioner.embedders.0.transformer.text_model.embeddings.position_ids", new long[] {1},
                        new float[] {0f}).write(xl);
        // SDXL files are read (SdxlSingleFileCheckpointTest); an incomplete one fails naming the file and what is missing
        e = assertThrows(ModelLoadException.class, () -> SingleFileCheckpoint.open(xl));
        assertTrue(e.getMessage().contains("xl.safetensors") && e.getMessage().contains("no VAE weights"),
                e.getMessage());
    }
}
