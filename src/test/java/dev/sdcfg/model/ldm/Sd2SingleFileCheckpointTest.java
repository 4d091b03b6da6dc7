package dev.sdcfg.model.ldm;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.guidance.GuidanceSpec;
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
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SD 2.x single files (OpenCLIP text tower {@code cond_stage_model.model.*}) against diffusers' own conversion code
 * ({@code tools/singlefile-goldens/gen_openclip.py sd2}): the SD 2.x-style tiny model of {@code Sd2PipelineParityTest}
 * (v-prediction UNet with linear projections, gelu text encoder) written in the SD 2.x layout, one OpenCLIP resblock
 * more than the diffusers encoder (the one SD 2.x skips), then converted here. Every component's diffusers key →
 * tensor map must equal what {@code single_file_utils.convert_ldm_unet_checkpoint}, {@code convert_ldm_vae_checkpoint}
 * and {@code convert_open_clip_checkpoint} give (same keys, shapes, bytes: the fused q/k/v split as diffusers splits
 * it), and the pipeline loaded from the file must draw the folder's images bit for bit with the scheduler it infers
 * (DDIM, v-prediction by diffusers' SD 2.x rule).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class Sd2SingleFileCheckpointTest {

    /** What the tiny model's weights cannot tell and differs from SD 2.x's defaults. */
    static final String SIDECAR = "{\"unet\": {\"norm_num_groups\": 8, \"sample_size\": 8,"
            + " \"attention_head_dim\": [2, 3, 4]},"
            + " \"vae\": {\"norm_num_groups\": 8, \"sample_size\": 128},"
            + " \"text_encoder\": {\"num_attention_heads\": 4}}";

    private JsonObject golden;
    private Path dir;
    private Path folder;
    private Path ldmFile;

    @BeforeAll
    void writeLdmFile() throws IOException {
        DjlRuntime.engine();
        golden = LdmFixture.golden("sd2_conversion.json");
        dir = Files.createTempDirectory("sd2-single-file-");
        folder = dir.resolve("folder");
        Path overlay = Fixtures.resource("parity-extra/pipeline/sd2_v").resolve("model");
        for (Path root : new Path[] {Fixtures.resource("random-model"), overlay}) {
            try (Stream<Path> files = Files.walk(root)) {
                for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                    Path target = folder.resolve(root.relativize(f).toString());
                    Files.createDirectories(target.getParent());
                    Files.copy(f, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
        ldmFile = write("tiny2");
    }

    /** The golden's LDM file as {@code dir/NAME.safetensors}, with the sidecar. */
    private Path write(String name) throws IOException {
        Path out = dir.resolve(name + ".safetensors");
        LdmFixture.writeLdm(out, golden.getAsJsonObject("ldm"), Map.of(
                "unet", folder.resolve("unet/diffusion_pytorch_model.safetensors"),
                "vae", folder.resolve("vae/diffusion_pytorch_model.safetensors"),
                "text_encoder", folder.resolve("text_encoder/model.safetensors")));
        Files.writeString(dir.resolve(name + ".json"), SIDECAR);
        return out;
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
            assertEquals(SingleFileCheckpoint.Family.SD2, ckpt.family());
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
                    if (c.equals("text_encoder")) { // q/k/v cut from the fused in_proj: a third of its rows
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
            assertEquals(496 + 244 + 52, checked);
            // left unread, as diffusers leaves them: the last resblock (SD 2.x runs the penultimate) and text_projection
            Set<String> other = new TreeSet<>();
            for (String k : golden.getAsJsonObject("ldm").keySet()) {
                if (k.startsWith("cond_stage_model.model.transformer.resblocks.3.")
                        || k.equals("cond_stage_model.model.text_projection")) {
                    other.add(k);
                }
            }
            assertEquals(13, other.size());
            assertEquals(other, ckpt.otherKeys());
        }
    }

    @Test
    void inferredConfigsMatchTheFolder() throws IOException {
        try (SingleFileCheckpoint ckpt = SingleFileCheckpoint.open(ldmFile)) {
            JsonObject unet = read("unet/config.json");
            for (String k : new String[] {"in_channels", "out_channels", "block_out_channels", "down_block_types",
                    "up_block_types", "layers_per_block", "cross_attention_dim", "attention_head_dim",
                    "mid_block_type", "use_linear_projection", "upcast_attention", "norm_num_groups", "sample_size"}) {
                if (unet.has(k)) {
                    assertEquals(unet.get(k), ckpt.unetConfig().json().get(k), "unet " + k);
                }
            }
            assertTrue(ckpt.unetConfig().json().get("use_linear_projection").getAsBoolean());
            JsonObject te = read("text_encoder/config.json");
            for (String k : new String[] {"hidden_size", "num_hidden_layers", "intermediate_size", "vocab_size",
                    "max_position_embeddings", "num_attention_heads", "hidden_act"}) {
                assertEquals(te.get(k), ckpt.textEncoderConfig().json().get(k), "text_encoder " + k);
            }
            JsonObject sched = read("scheduler/scheduler_config.json");
            for (String k : ckpt.schedulerConfig().json().keySet()) {
                var want = sched.get(k).getAsJsonPrimitive();
                var got = ckpt.schedulerConfig().json().get(k).getAsJsonPrimitive();
                if (want.isNumber()) {
                    assertEquals(want.getAsDouble(), got.getAsDouble(), "scheduler " + k); // 0.00085 vs 8.5E-4
                } else {
                    assertEquals(want, got, "scheduler " + k);
                }
            }
            assertEquals("!", ckpt.padToken());
        }
    }

    private JsonObject read(String rel) throws IOException {
        return JsonParser.parseString(Files.readString(folder.resolve(rel))).getAsJsonObject();
    }

    @Test
    void theSingleFileDrawsTheFoldersImages() {
        // the model's own sampler (null): DDIM v-prediction, from the folder's config and from the inferred one
        GenerationRequest req = new GenerationRequest("a lighthouse at dusk", "fog", 64, 64, 4, null, null,
                GuidanceSpec.parse("7.5"), 42L, 1);
        BufferedImage fromFolder;
        BufferedImage fromFile;
        long padId;
        try (StableDiffusionPipeline p = StableDiffusionPipeline.load(folder, ComputeContext.cpu(),
                PipelineOptions.defaults())) {
            fromFolder = PngEncoder.decode(p.generate(req, GenerationListener.NONE).images().get(0).png());
        }
        try (StableDiffusionPipeline p = CheckpointLoader.load(ldmFile, ComputeContext.cpu(),
                PipelineOptions.defaults())) {
            assertEquals("tiny2", p.modelInfo().id());
            padId = p.tokenizer().padId();
            fromFile = PngEncoder.decode(p.generate(req, GenerationListener.NONE).images().get(0).png());
        }
        assertArrayEquals(fromFolder.getRGB(0, 0, 64, 64, null, 0, 64), fromFile.getRGB(0, 0, 64, 64, null, 0, 64));
        assertEquals(0L, padId); // SD 2.x's "!"
    }

    @Test
    void predictionTypeFollowsDiffusersRuleUnlessTheSidecarSays() throws IOException {
        // diffusers: SD 2.x is v_prediction unless global_step is 875000 (SD 2.0-base, epsilon, 512 px)
        Path base = write("base");
        Path withStep = dir.resolve("base2.safetensors");
        try (var in = dev.sdcfg.model.io.Safetensors.open(base)) {
            SafetensorsWriter w = new SafetensorsWriter();
            for (String k : in.keys()) {
                w.copy(in, k, k, in.info(k).shape());
            }
            w.addInt64("global_step", new long[] {}, new long[] {875000L}).write(withStep);
        }
        Files.writeString(dir.resolve("base2.json"), "{\"text_encoder\": {\"num_attention_heads\": 4}}");
        try (SingleFileCheckpoint ckpt = SingleFileCheckpoint.open(withStep)) {
            assertEquals("epsilon", ckpt.schedulerConfig().json().get("prediction_type").getAsString());
            assertEquals(64, ckpt.unetConfig().json().get("sample_size").getAsInt());
            assertTrue(ckpt.otherKeys().contains("global_step"));
        }
        Files.writeString(dir.resolve("base.json"), "{\"prediction_type\": \"epsilon\"}");
        try (SingleFileCheckpoint ckpt = SingleFileCheckpoint.open(base)) {
            assertEquals("epsilon", ckpt.schedulerConfig().json().get("prediction_type").getAsString());
            assertEquals(64, ckpt.unetConfig().json().get("sample_size").getAsInt());
            // SD 2.x's 64-channel heads, with the tiny channels' floor of one head
            assertEquals("[1,1,1]", ckpt.unetConfig().json().get("attention_head_dim").toString());
        }
        Files.delete(dir.resolve("base.json"));
        // an LDM YAML without parameterization is LatentDiffusion's default, eps (SD 2.x base's v2-inference.yaml)
        Files.writeString(dir.resolve("base.yaml"), "model:\n  params:\n    scale_factor: 0.18215\n");
        try (SingleFileCheckpoint ckpt = SingleFileCheckpoint.open(base)) {
            assertEquals("epsilon", ckpt.schedulerConfig().json().get("prediction_type").getAsString());
            assertEquals(64, ckpt.unetConfig().json().get("sample_size").getAsInt());
        }
        Files.delete(dir.resolve("base.yaml"));
        try (SingleFileCheckpoint ckpt = SingleFileCheckpoint.open(base)) {
            assertEquals("v_prediction", ckpt.schedulerConfig().json().get("prediction_type").getAsString());
            assertEquals(96, ckpt.unetConfig().json().get("sample_size").getAsInt());
        }
    }

    @Test
    void aFusedProjectionThatIsNotThreeEqualPartsFailsNamingFileAndKey() {
        String k = "cond_stage_model.model.transformer.resblocks.0.attn.in_proj_weight";
        Set<String> keys = Set.of(k, "cond_stage_model.model.transformer.resblocks.1.ln_1.weight");
        dev.sdcfg.model.ModelLoadException e = org.junit.jupiter.api.Assertions.assertThrows(
                dev.sdcfg.model.ModelLoadException.class, () -> LdmKeys.openClip(Path.of("x.safetensors"), keys,
                        key -> new long[] {7, 2}, LdmKeys.OPEN_CLIP_PREFIX, true, false));
        assertTrue(e.getMessage().contains("x.safetensors") && e.getMessage().contains(k)
                && e.getMessage().contains("3 × width"), e.getMessage());
    }
}
