package dev.sdcfg.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
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
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Image to image against goldens made by diffusers' own {@code StableDiffusionImg2ImgPipeline} source on the demo
 * model ({@code parity-extra/img2img}, tools/img2img-goldens): PNDM (the model's own) at strengths 0.75 and 0.3,
 * Euler 0.5, DPM++ 2M 0.75, DDIM 0.3 and Euler ancestral 0.6 (stochastic: its draws follow the two of
 * prepare_latents), CFG 5..7.5, from {@code init.png} decoded by {@link InitImage}.
 *
 * <p>Per run: the preprocessed image exactly; the two random draws (the latent distribution's sample, then the
 * noise) exactly; the sampler's add_noise on diffusers' own inputs within 1e-7 (a few float32 ops); the VAE
 * encoder's moments and the noised start latents within 1e-4 (an fp32 encoder forward); the timesteps the loop runs;
 * the latents after every step, the final latents and the decoded image within 1e-4; the 8-bit image within one
 * level.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class Img2ImgParityTest {

    private static final double TOL = 1e-4;

    private Path caseDir;
    private JsonObject notes;
    private Safetensors golden;
    private StableDiffusionPipeline pipe;
    private NDManager manager;
    private InitImage image;

    @BeforeAll
    void load() throws IOException {
        caseDir = Fixtures.resource("parity-extra/img2img");
        notes = GoldenReplay.notes(caseDir);
        golden = Safetensors.open(caseDir.resolve("golden.safetensors"));
        pipe = StableDiffusionPipeline.load(Fixtures.resource("random-model"), ComputeContext.cpu(),
                PipelineOptions.defaults());
        manager = NDManager.newBaseManager();
        image = InitImage.decode(Files.readAllBytes(caseDir.resolve("init.png")), "init_image", 1 << 20);
    }

    @AfterAll
    void close() throws IOException {
        manager.close();
        pipe.close();
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
    void tokenIdsAreOurs() throws IOException {
        for (Map.Entry<String, JsonElement> e : notes.getAsJsonObject("prompts").entrySet()) {
            String text = e.getValue().getAsJsonObject().get("text").getAsString();
            assertArrayEquals(ref("ids." + e.getKey()).toLongArray(), pipe.tokenizer().encode(text).ids(),
                    "ids of '" + text + "'");
        }
    }

    @TestFactory
    List<DynamicTest> runs() {
        return GoldenReplay.perRun(notes, "start latents", this::checkStart, this::checkRun);
    }

    private Sampler sampler(GenerationRequest r) {
        Sampler s = dev.sdcfg.sampler.SamplerFactory.create(r.sampler(),
                StableDiffusionPipeline.asStableDiffusionPipelineSees(dev.sdcfg.model.config.JsonConfig.read(
                        Fixtures.resource("random-model").resolve("scheduler").resolve("scheduler_config.json"))),
                r.samplerOptions().toJson());
        s.setTimesteps(r.steps());
        return s;
    }

    /** Preprocessing, encoding, the two draws and the sampler's add_noise, each against diffusers. */
    private void checkStart(String name, JsonObject run) throws IOException {
        GenerationRequest r = request(run);
        NDArray pixels = manager.create(Img2Img.pixels(image), new ai.djl.ndarray.types.Shape(1, 3, image.height(),
                image.width()));
        assertEquals(0.0, Fixtures.relL2(pixels, ref(name + ".image_in")), 0.0, name + " preprocessed image");
        NDArray moments = pipe.vae().encodeMoments(pixels);
        double em = Fixtures.relL2(moments, ref(name + ".moments"));
        assertTrue(em < TOL, name + " encoder moments relL2 " + em);
        dev.sdcfg.runtime.DjlRuntime.seed(r.seed());
        for (String draw : new String[] {"vae_sample", "noise"}) {
            NDArray theirs = ref(name + "." + draw);
            NDArray ours = dev.sdcfg.sampler.NoiseSource.ENGINE_CPU.randn(theirs.getShape(),
                    ai.djl.ndarray.types.DataType.FLOAT32, manager);
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
            NDArray start = ImageStart.prepare(pipe.vae(), r.img2img(), r.seed(), s, first, 4,
                    ai.djl.ndarray.types.DataType.FLOAT32, manager).latents();
            double en = Fixtures.relL2(start, ref(name + ".noised_latents"));
            System.out.printf("img2img %-28s moments %.2e  noised start latents %.2e%n", name, em, en);
            assertTrue(en < TOL, name + " noised start latents relL2 " + en);
            // the noise rule alone, on diffusers' own inputs
            NDArray alone = s.addNoise(ref(name + ".init_latents"), ref(name + ".noise"), first);
            double ea = Fixtures.relL2(alone, ref(name + ".noised_latents"));
            assertTrue(ea < 1e-7, name + " add_noise relL2 " + ea);
        }
    }

    private void checkRun(String name, JsonObject run) throws IOException {
        int steps = (int) ref(name + ".run_timesteps").size();
        GoldenReplay.check("img2img", pipe, request(run), name, steps, golden, manager, TOL);
    }
}
