package dev.sdcfg.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonObject;
import dev.sdcfg.model.config.JsonConfig;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.sampler.Sampler;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Image to image with a guidance normalizer, against goldens made by diffusers' own
 * {@code StableDiffusionXLImg2ImgPipeline} source on the tiny SDXL model ({@code parity-extra/sdxl-img2img},
 * tools/sdxl-goldens/gen_sdxl_img2img.py): start image {@code img2img/init.png}, strength 0.6 (6 of 10 steps),
 * {@code guidance_rescale} 0.7 (diffusers' {@code rescale_noise_cfg}, our {@code {"normalizer":"rescale","phi":0.7}}),
 * Euler (the model's, leading spacing) CFG 5 and DPM++ 2M CFG 6.
 *
 * <p>Per run, with the limits of {@link Img2ImgParityTest} and {@link SdxlPipelineParityTest}: the preprocessed image
 * and the two random draws exactly; add_noise on diffusers' inputs within 1e-7; encoder moments and noised start
 * latents within 1e-4; the timesteps the loop runs; the conditioning (time ids exactly, embeddings within 1e-4);
 * the latents after every step, the final latents and the decoded image within relative L2 1e-4; the 8-bit image
 * within one level.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SdxlImg2ImgParityTest {

    private static final double TOL = PipelineGoldens.TOL;

    private Path dir;
    private Path model;
    private JsonObject notes;
    private Safetensors golden;
    private StableDiffusionPipeline pipe;
    private NDManager manager;
    private InitImage image;

    @BeforeAll
    void load() throws IOException {
        dir = Fixtures.resource("parity-extra/sdxl-img2img");
        model = Fixtures.resource("parity-extra/sdxl").resolve("model");
        notes = GoldenReplay.notes(dir);
        golden = Safetensors.open(dir.resolve("golden.safetensors"));
        pipe = StableDiffusionPipeline.load(model, ComputeContext.cpu(), PipelineOptions.defaults());
        manager = NDManager.newBaseManager();
        image = InitImage.decode(Files.readAllBytes(Fixtures.resource("parity-extra/img2img").resolve("init.png")),
                "init_image", 1 << 20);
    }

    @AfterAll
    void close() throws IOException {
        if (manager != null) {
            manager.close();
        }
        if (pipe != null) {
            pipe.close();
        }
        golden.close();
    }

    private NDArray ref(String key) throws IOException {
        return golden.load(key, manager, null);
    }

    private GenerationRequest request(JsonObject run) {
        double strength = run.getAsJsonObject("request").get("strength").getAsDouble();
        return GoldenReplay.request(run, new Img2ImgInput(image, strength));
    }

    @Test
    void modelIsSdxlAndIdsAreOurs() throws IOException {
        assertEquals("sdxl", pipe.modelInfo().family());
        JsonObject prompts = notes.getAsJsonObject("prompts");
        for (String tk : List.of("tokenizer", "tokenizer_2")) {
            dev.sdcfg.model.clip.ClipTokenizer tok = tk.equals("tokenizer") ? pipe.tokenizer() : pipe.sdxlTokenizer2();
            for (String key : prompts.keySet()) {
                assertArrayEquals(ref("ids." + tk + "." + key).toLongArray(),
                        tok.encode(prompts.get(key).getAsString()).ids(), tk + " " + key);
            }
        }
    }

    @TestFactory
    List<DynamicTest> runs() {
        return GoldenReplay.perRun(notes, "start latents", this::checkStart, this::checkRun);
    }

    /** The scheduler config as StableDiffusionXLPipeline leaves it (no SD 1.x rewrite). */
    private Sampler sampler(GenerationRequest r) {
        Sampler s = dev.sdcfg.sampler.SamplerFactory.create(r.sampler(),
                JsonConfig.read(model.resolve("scheduler").resolve("scheduler_config.json")),
                r.samplerOptions().toJson());
        s.setTimesteps(r.steps());
        return s;
    }

    /** Preprocessing, encoding with SDXL's VAE (scaling factor 0.13025), the two draws and add_noise. */
    private void checkStart(String name, JsonObject run) throws IOException {
        GenerationRequest r = request(run);
        NDArray pixels = manager.create(Img2Img.pixels(image), new Shape(1, 3, image.height(), image.width()));
        assertEquals(0.0, Fixtures.relL2(pixels, ref(name + ".image_in")), 0.0, name + " preprocessed image");
        NDArray moments = pipe.vae().encodeMoments(pixels);
        double em = Fixtures.relL2(moments, ref(name + ".moments"));
        assertTrue(em < TOL, name + " encoder moments relL2 " + em);
        dev.sdcfg.runtime.DjlRuntime.seed(r.seed());
        for (String draw : new String[] {"vae_sample", "noise"}) {
            NDArray theirs = ref(name + "." + draw);
            NDArray ours = dev.sdcfg.sampler.NoiseSource.ENGINE_CPU.randn(theirs.getShape(), DataType.FLOAT32, manager);
            assertEquals(0.0, Fixtures.relL2(ours, theirs), 0.0, name + " draw " + draw);
        }
        try (Sampler s = sampler(r)) {
            assertEquals(run.get("scheduler_class").getAsString(), s.diffusersClass());
            int first = Img2Img.firstCall(r, s);
            assertEquals(run.get("t_start").getAsInt() * s.order(), first, name + " first call");
            double[] ts = s.timesteps();
            double[] theirs = ref(name + ".run_timesteps").toDoubleArray();
            assertEquals(theirs.length, ts.length - first, name + " timesteps run");
            for (int i = 0; i < theirs.length; i++) {
                assertEquals(theirs[i], ts[first + i], 1e-4 * Math.max(1, Math.abs(theirs[i])), name + " t" + i);
            }
            NDArray start = ImageStart.prepare(pipe.vae(), r.img2img(), r.seed(), s, first, 4, DataType.FLOAT32,
                    manager).latents();
            double en = Fixtures.relL2(start, ref(name + ".noised_latents"));
            NDArray alone = s.addNoise(ref(name + ".init_latents"), ref(name + ".noise"), first);
            double ea = Fixtures.relL2(alone, ref(name + ".noised_latents"));
            System.out.printf("sdxl img2img %-30s moments %.2e  noised start latents %.2e  add_noise %.2e%n", name,
                    em, en, ea);
            assertTrue(en < TOL, name + " noised start latents relL2 " + en);
            assertTrue(ea < 1e-7, name + " add_noise relL2 " + ea);
        }
    }

    /** The whole image-to-image loop with the rescale normalizer, through the pipeline's SDXL denoise. */
    private void checkRun(String name, JsonObject run) throws IOException {
        GenerationRequest r = request(run);
        pipe.validate(r);
        int steps = (int) ref(name + ".run_timesteps").size();
        System.out.printf("sdxl img2img %-30s %s%n", name,
                PipelineGoldens.checkXlRun(pipe, golden, manager, name, r, steps));
    }
}
