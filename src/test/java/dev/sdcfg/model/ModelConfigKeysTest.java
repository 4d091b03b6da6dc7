package dev.sdcfg.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.model.clip.ClipTextModel;
import dev.sdcfg.model.clip.ClipTokenizer;
import dev.sdcfg.model.config.JsonConfig;
import dev.sdcfg.model.vae.VaeConfig;
import dev.sdcfg.pipeline.PipelineOptions;
import dev.sdcfg.pipeline.StableDiffusionPipeline;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Config keys of the VAE, the text encoder, the tokenizer, model_index.json and the pipeline's component fit: each
 * is implemented as diffusers/transformers do it, accepted because it cannot change the computation, or refused at
 * load naming the file and the key. Variants are copies of the demo model with one JSON file edited.
 */
class ModelConfigKeysTest {

    private static final Gson GSON = new GsonBuilder().serializeNulls().setPrettyPrinting().create();

    private static Path demo() {
        return Fixtures.resource("random-model");
    }

    /** A copy of the demo model with {@code file} (relative) edited. */
    private static Path copyWith(Path dir, String file, Consumer<JsonObject> edit) throws IOException {
        Path src = demo();
        try (Stream<Path> walk = Files.walk(src)) {
            for (Path p : (Iterable<Path>) walk::iterator) {
                Path t = dir.resolve(src.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
        Path f = dir.resolve(file);
        JsonObject o = JsonParser.parseString(Files.readString(f)).getAsJsonObject();
        edit.accept(o);
        Files.writeString(f, GSON.toJson(o), StandardCharsets.UTF_8);
        return dir;
    }

    private static void assertNames(ModelLoadException e, String file, String key) {
        String msg = e.getMessage();
        System.out.println("[refused] " + msg);
        assertTrue(msg.contains(file) && msg.contains("'" + key + "'"), msg);
    }

    // ------------------------------------------------------------------ VAE

    /** AutoencoderKL flags given as null reach diffusers as None and read as false; sizes given as null are refused. */
    @Test
    void vaeNullsReadAsDiffusersReadsThem() {
        VaeConfig c = VaeConfig.from(JsonConfig.parse("vae/config.json", "{\"use_quant_conv\": null,"
                + " \"use_post_quant_conv\": null, \"force_upcast\": null, \"mid_block_add_attention\": null,"
                + " \"shift_factor\": null, \"latents_mean\": null, \"sample_size\": null}"));
        assertFalse(c.useQuantConv() || c.usePostQuantConv() || c.forceUpcast() || c.midBlockAddAttention());
        assertFalse(c.hasShiftFactor());
        VaeConfig d = VaeConfig.from(JsonConfig.parse("vae/config.json", "{}"));
        assertTrue(d.useQuantConv() && d.usePostQuantConv() && d.forceUpcast() && d.midBlockAddAttention());
        for (String key : new String[] {"latent_channels", "scaling_factor", "layers_per_block", "norm_num_groups",
            "block_out_channels", "act_fn"}) {
            ModelLoadException e = assertThrows(ModelLoadException.class,
                    () -> VaeConfig.from(JsonConfig.parse("vae/config.json", "{\"" + key + "\": null}")), key);
            assertNames(e, "vae/config.json", key);
        }
        // keys AutoencoderKL does not take are ignored (diffusers warns and ignores them too)
        VaeConfig e = VaeConfig.from(JsonConfig.parse("vae/config.json", "{\"sample_size\": 768,"
                + " \"_name_or_path\": \"x\", \"some_future_key\": 1}"));
        assertTrue(e.useQuantConv());
    }

    // ------------------------------------------------------------------ text encoder

    /**
     * Keys that only shape outputs SD never reads (eos_token_id → pooler_output, projection_dim →
     * CLIPTextModelWithProjection) or do nothing at inference (dropouts, initializers, dtype, attention backend)
     * leave last_hidden_state bit-identical.
     */
    @Test
    void textEncoderHarmlessKeysChangeNothing(@TempDir Path dir) throws IOException {
        Path edited = copyWith(dir, "text_encoder/config.json", o -> {
            o.addProperty("eos_token_id", 2);
            o.addProperty("projection_dim", 768);
            o.addProperty("attention_dropout", 0.1);
            o.addProperty("dropout", 0.1);
            o.addProperty("initializer_factor", 3.0);
            o.addProperty("torch_dtype", "float16");
            o.addProperty("_attn_implementation", "sdpa");
            o.add("architectures", JsonParser.parseString("[\"CLIPTextModelWithProjection\"]"));
        });
        try (NDManager m = NDManager.newBaseManager(DjlRuntime.engine().defaultDevice());
             ClipTextModel a = ClipTextModel.load(demo().resolve("text_encoder"), null, ComputeContext.cpu(DataType.FLOAT64));
             ClipTextModel b = ClipTextModel.load(edited.resolve("text_encoder"), null, ComputeContext.cpu(DataType.FLOAT64))) {
            NDArray ids = m.create(new long[] {49406, 320, 1125, 539, 49407, 49407, 49407}).reshape(1, 7);
            assertArrayEquals(a.encode(ids, 0).toDoubleArray(), b.encode(ids, 0).toDoubleArray());
            assertArrayEquals(a.encode(ids, 1).toDoubleArray(), b.encode(ids, 1).toDoubleArray());
        }
    }

    @Test
    void textEncoderRefusesWhatTransformersCannotBuildAsCLIPTextModel(@TempDir Path dir) throws IOException {
        Object[][] cases = {
            {"layer_norm_eps", null},
            {"hidden_act", null},
            {"hidden_act", "gelu_pytorch_tanh"},
            {"model_type", "clip"},
            {"max_position_embeddings", null},
        };
        int i = 0;
        for (Object[] c : cases) {
            Path d = copyWith(dir.resolve("c" + i++), "text_encoder/config.json", o -> o.add((String) c[0],
                    c[1] == null ? null : new com.google.gson.JsonPrimitive((String) c[1])));
            ModelLoadException e = assertThrows(ModelLoadException.class,
                    () -> ClipTextModel.load(d.resolve("text_encoder"), null, ComputeContext.cpu()).close(),
                    c[0] + "=" + c[1]);
            assertNames(e, "config.json", (String) c[0]);
        }
    }

    // ------------------------------------------------------------------ tokenizer

    /** padding_side / truncation_side "left" would change the ids transformers produces: refused; "right" loads. */
    @Test
    void tokenizerSidesOtherThanRightAreRefused(@TempDir Path dir) throws IOException {
        for (String key : new String[] {"padding_side", "truncation_side"}) {
            Path d = copyWith(dir.resolve(key), "tokenizer/tokenizer_config.json", o -> o.addProperty(key, "left"));
            ModelLoadException e = assertThrows(ModelLoadException.class,
                    () -> ClipTokenizer.load(d.resolve("tokenizer")).close(), key);
            assertNames(e, "tokenizer_config.json", key);
            Path ok = copyWith(dir.resolve(key + "-right"), "tokenizer/tokenizer_config.json",
                    o -> o.addProperty(key, "right"));
            try (ClipTokenizer t = ClipTokenizer.load(ok.resolve("tokenizer"));
                 ClipTokenizer ref = ClipTokenizer.load(demo().resolve("tokenizer"))) {
                assertArrayEquals(ref.encode("a photo of a cat").ids(), t.encode("a photo of a cat").ids());
            }
        }
    }

    // ------------------------------------------------------------------ model_index.json

    /**
     * StableDiffusionPipeline's optional components and flags (safety_checker, feature_extractor, image_encoder,
     * requires_safety_checker) and keys it does not take are accepted; another pipeline class or another class
     * for a required component is refused naming model_index.json and the key.
     */
    @Test
    void modelIndexComponents(@TempDir Path dir) throws IOException {
        Path ok = copyWith(dir.resolve("ok"), "model_index.json", o -> {
            o.add("safety_checker", JsonParser.parseString("[\"stable_diffusion\", \"StableDiffusionSafetyChecker\"]"));
            o.add("feature_extractor", JsonParser.parseString("[\"transformers\", \"CLIPImageProcessor\"]"));
            o.add("image_encoder", JsonParser.parseString("[null, null]"));
            o.addProperty("requires_safety_checker", true);
            o.addProperty("_name_or_path", "stabilityai/stable-diffusion-2-1");
            o.add("tokenizer", JsonParser.parseString("[\"transformers\", \"CLIPTokenizerFast\"]"));
            o.addProperty("some_future_option", 1);
        });
        ModelFolder.open(ok);

        Object[][] cases = {
            {"_class_name", "StableDiffusionXLImg2ImgPipeline"}, // the SDXL refiner
            {"_class_name", "StableDiffusionUpscalePipeline"},
            {"text_encoder", "[\"transformers\", \"CLIPTextModelWithProjection\"]"},
            {"unet", "[\"diffusers\", \"UNet2DModel\"]"},
            {"vae", "[\"diffusers\", \"AutoencoderTiny\"]"},
            {"tokenizer", "[\"transformers\", \"T5Tokenizer\"]"},
        };
        int i = 0;
        for (Object[] c : cases) {
            String key = (String) c[0];
            String v = (String) c[1];
            Path d = copyWith(dir.resolve("c" + i++), "model_index.json",
                    o -> o.add(key, v.startsWith("[") ? JsonParser.parseString(v) : new com.google.gson.JsonPrimitive(v)));
            ModelLoadException e = assertThrows(ModelLoadException.class, () -> ModelFolder.open(d), key + "=" + v);
            assertNames(e, "model_index.json", key);
        }
    }

    // ------------------------------------------------------------------ pipeline

    /**
     * Components that diffusers' StableDiffusionPipeline would only trip over mid-generation are refused at load:
     * a tokenizer longer than the text encoder's positions; a model scheduler class with no sampler here (the
     * message names scheduler_config.json and the key).
     */
    @Test
    void pipelineRefusesComponentsThatDoNotFit(@TempDir Path dir) throws IOException {
        Path longTok = copyWith(dir.resolve("a"), "tokenizer/tokenizer_config.json",
                o -> o.addProperty("model_max_length", 100));
        ModelLoadException e = assertThrows(ModelLoadException.class,
                () -> StableDiffusionPipeline.load(longTok, ComputeContext.cpu(), PipelineOptions.defaults()).close());
        assertNames(e, "tokenizer", "max_position_embeddings");

        Path sched = copyWith(dir.resolve("b"), "scheduler/scheduler_config.json",
                o -> o.addProperty("_class_name", "LCMScheduler"));
        e = assertThrows(ModelLoadException.class,
                () -> StableDiffusionPipeline.load(sched, ComputeContext.cpu(), PipelineOptions.defaults()).close());
        assertTrue(e.getMessage().contains("scheduler_config.json") && e.getMessage().contains("LCMScheduler"),
                e.getMessage());

        Path beta = copyWith(dir.resolve("c"), "scheduler/scheduler_config.json",
                o -> o.addProperty("beta_schedule", "cosine_typo"));
        e = assertThrows(ModelLoadException.class,
                () -> StableDiffusionPipeline.load(beta, ComputeContext.cpu(), PipelineOptions.defaults()).close());
        assertNames(e, "scheduler_config.json", "beta_schedule");
    }
}
