package dev.sdcfg.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.pipeline.image.PilResample;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.sampler.Sampler;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The high-resolution second pass against goldens whose every stage is the reference's own code
 * ({@code parity-extra/hires}, tools/img2img-goldens/gen_hires.py): diffusers' StableDiffusionPipeline at 48×32, the
 * upscale (torch's {@code interpolate(mode="bilinear", antialias=False)} on the latents; PIL's {@code LANCZOS} on the
 * 8-bit image), diffusers' StableDiffusionImg2ImgPipeline at the target size with a fresh generator; Euler and the
 * model's PNDM with the latent upscaler at ×2 and ×1.5, DPM++ 2M and Euler ancestral with Lanczos at ×1.5 and ×2.
 *
 * <p>Each stage is checked on the golden's own input, so that an error shows where it is made: the first pass's final
 * latents within 1e-4; the latent upscale within 1e-6 (a few float32 products); the Lanczos resize exactly (PIL's
 * fixed-point arithmetic, bit for bit); the second pass's draws exactly, its noised start latents, the latents after
 * every step, the final latents and the decoded image within 1e-4, the 8-bit image within one level. Then the whole
 * request through {@link StableDiffusionPipeline#generate}: the PNG's size, the progress over both passes, and its
 * pixels against the golden's.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HiresParityTest {

    private static final double TOL = 1e-4;

    private JsonObject notes;
    private Safetensors golden;
    private StableDiffusionPipeline pipe;
    private NDManager manager;

    @BeforeAll
    void load() throws IOException {
        java.nio.file.Path caseDir = Fixtures.resource("parity-extra/hires");
        notes = GoldenReplay.notes(caseDir);
        golden = Safetensors.open(caseDir.resolve("golden.safetensors"));
        pipe = StableDiffusionPipeline.load(Fixtures.resource("random-model"), ComputeContext.cpu(),
                PipelineOptions.defaults());
        manager = NDManager.newBaseManager();
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

    /** The run's request: notes.json's first pass plus its {@code hires}. */
    private static GenerationRequest request(JsonObject run) {
        JsonObject h = run.getAsJsonObject("request").getAsJsonObject("hires");
        return GoldenReplay.request(run, null).withHires(new HiresFix(h.get("scale").getAsDouble(),
                h.get("steps").getAsInt(), h.get("strength").getAsDouble(),
                HiresFix.Upscaler.of(h.get("upscaler").getAsString())));
    }

    @TestFactory
    List<DynamicTest> runs() {
        List<DynamicTest> tests = new ArrayList<>();
        for (JsonElement e : notes.getAsJsonArray("runs")) {
            JsonObject run = e.getAsJsonObject();
            String name = run.get("name").getAsString();
            tests.add(DynamicTest.dynamicTest(name + " first pass", () -> checkFirstPass(name, run)));
            tests.add(DynamicTest.dynamicTest(name + " upscale", () -> checkUpscale(name, run)));
            tests.add(DynamicTest.dynamicTest(name + " second pass", () -> checkSecondPass(name, run)));
            tests.add(DynamicTest.dynamicTest(name + " generate", () -> checkGenerate(name, run)));
        }
        assertEquals(16, tests.size(), "notes.json lists four runs");
        return tests;
    }

    private void checkFirstPass(String name, JsonObject run) throws IOException {
        GenerationRequest r = request(run);
        GenerationRequest first = r.withHires(null);
        pipe.validate(r);
        try (NDManager job = manager.newSubManager()) {
            NDArray cond = pipe.encodePrompt(r.prompt(), "prompt", null, job);
            NDArray uncond = pipe.encodePrompt(r.negativePrompt(), "negative_prompt", null, job);
            NDArray latents = pipe.denoise(first, r.seed(), 0, cond, uncond, GenerationListener.NONE, job, null);
            double err = Fixtures.relL2(latents, golden.load(name + ".first.final_latents", job, null));
            System.out.printf("hires %-40s first pass final latents %.2e%n", name, err);
            assertTrue(err < TOL, name + " first pass final latents relL2 " + err);
        }
    }

    private void checkUpscale(String name, JsonObject run) throws IOException {
        GenerationRequest r = request(run);
        JsonObject q = run.getAsJsonObject("request");
        int tw = r.outputWidth();
        int th = r.outputHeight();
        assertEquals(run.getAsJsonArray("target").get(0).getAsInt(), tw, name + " target width");
        assertEquals(run.getAsJsonArray("target").get(1).getAsInt(), th, name + " target height");
        if (r.hires().upscaler() == HiresFix.Upscaler.LATENT) {
            NDArray up = HiresPass.upscaleLatents(ref(name + ".first.final_latents"), th / 8, tw / 8, manager);
            double err = Fixtures.relL2(up, ref(name + ".upscaled_latents"));
            System.out.printf("hires %-40s latent upscale %.2e%n", name, err);
            assertTrue(err < 1e-6, name + " upscaled latents relL2 " + err);
        } else {
            byte[] small = ref(name + ".first.image_u8").toByteArray();
            byte[] ours = PilResample.lanczos(small, q.get("width").getAsInt(), q.get("height").getAsInt(), 3, tw, th);
            int[] d = Fixtures.u8Diff(ours, ref(name + ".upscaled_u8").toByteArray());
            System.out.printf("hires %-40s lanczos max diff %d (%d values)%n", name, d[0], d[1]);
            assertEquals(0, d[0], name + ": PIL's LANCZOS resize differs in " + d[1] + " values");
        }
    }

    private void checkSecondPass(String name, JsonObject run) throws IOException {
        GenerationRequest r = request(run);
        HiresFix h = r.hires();
        boolean latent = h.upscaler() == HiresFix.Upscaler.LATENT;
        Img2ImgInput start = latent ? null : new Img2ImgInput(new InitImage(r.outputWidth(), r.outputHeight(),
                ref(name + ".upscaled_u8").toByteArray()), h.strength());
        GenerationRequest second = HiresPass.request(r, start);
        assertEquals(r.outputWidth(), second.width());
        try (NDManager job = manager.newSubManager(); Sampler s = newSampler(second)) {
            assertEquals(run.get("scheduler_class").getAsString(), s.diffusersClass());
            int first = Img2Img.skippedSteps(second.steps(), h.strength()) * s.order();
            assertEquals(run.get("t_start").getAsInt() * s.order(), first, name + " first call");
            double[] ts = s.timesteps();
            double[] theirs = ref(name + ".run_timesteps").toDoubleArray();
            assertEquals(theirs.length, ts.length - first, name + " timesteps run");
            for (int i = 0; i < theirs.length; i++) {
                assertEquals(theirs[i], ts[first + i], 1e-4 * Math.max(1, Math.abs(theirs[i])), name + " t" + i);
            }
            // the draws of a fresh generator in diffusers' order: the latent distribution's sample (Lanczos), the noise
            dev.sdcfg.runtime.DjlRuntime.seed(r.seed());
            for (String draw : latent ? new String[] {"noise"} : new String[] {"vae_sample", "noise"}) {
                NDArray t = ref(name + "." + draw);
                NDArray ours = dev.sdcfg.sampler.NoiseSource.ENGINE_CPU.randn(t.getShape(), DataType.FLOAT32, job);
                assertEquals(0.0, Fixtures.relL2(ours, t), 0.0, name + " draw " + draw);
            }
            NDArray noised = latent
                    ? ImageStart.fromLatents(ref(name + ".upscaled_latents"), r.seed(), s, first, DataType.FLOAT32, job)
                    .latents()
                    : ImageStart.prepare(pipe.vae(), start, r.seed(), s, first, 4, DataType.FLOAT32, job).latents();
            double en = Fixtures.relL2(noised, ref(name + ".noised_latents"));
            assertTrue(en < TOL, name + " noised start latents relL2 " + en);

            NDArray cond = pipe.encodePrompt(r.prompt(), "prompt", null, job);
            NDArray uncond = pipe.encodePrompt(r.negativePrompt(), "negative_prompt", null, job);
            Map<Integer, NDArray> seen = new HashMap<>();
            StableDiffusionPipeline.StepObserver observer = (step, x) -> {
                NDArray copy = x.duplicate();
                copy.attach(job);
                seen.put(step, copy);
            };
            NDArray out = pipe.denoise(second, latent ? new StableDiffusionPipeline.LatentStart(
                    ref(name + ".upscaled_latents"), h.strength()) : null, r.seed(), 0, cond, uncond, null, null,
                    GenerationListener.NONE, job, observer);
            assertEquals(theirs.length, seen.size(), name + ": model calls run");
            double worst = 0;
            for (int i = 0; i < theirs.length; i++) {
                double err = Fixtures.relL2(seen.get(i), golden.load(name + ".step" + i + ".latents", job, null));
                worst = Math.max(worst, err);
                assertTrue(err < TOL, name + " step" + i + " relL2 " + err);
            }
            double ef = Fixtures.relL2(out, ref(name + ".final_latents"));
            assertTrue(ef < TOL, name + " final latents relL2 " + ef);
            NDArray decoded = pipe.decode(out);
            decoded.attach(job);
            double ei = Fixtures.relL2(decoded, ref(name + ".image"));
            int[] u8 = Fixtures.u8Diff(StableDiffusionPipeline.toRgbBytes(decoded),
                    ref(name + ".image_u8").toByteArray());
            System.out.printf("hires %-40s second pass: noised start %.2e  worst step %.2e  final %.2e  image %.2e"
                    + "  u8 max diff %d (%d values)%n", name, en, worst, ef, ei, u8[0], u8[1]);
            assertTrue(ei < TOL, name + " image relL2 " + ei);
            assertTrue(u8[0] <= 1, name + ": 8-bit image differs by " + u8[0] + " levels");
        }
    }

    /**
     * The whole request through generate: both passes chained by the pipeline itself (the first pass's own output
     * upscaled), the PNG at the target size, progress counting the steps of both passes, and the pixels.
     */
    private void checkGenerate(String name, JsonObject run) throws IOException {
        GenerationRequest r = request(run);
        List<int[]> steps = new ArrayList<>();
        GenerationResult result = pipe.generate(r, new GenerationListener() {
            @Override
            public void onStep(int image, int step, int totalSteps, long nanos) {
                steps.add(new int[] {step, totalSteps});
            }
        });
        int total = r.stepsRun();
        int firstRun = Img2Img.runSteps(r);
        assertEquals(firstRun + r.hires().runSteps(r.steps()), total);
        assertEquals(total, steps.size(), name + ": steps reported");
        for (int i = 0; i < steps.size(); i++) {
            assertArrayEquals(new int[] {i, total}, steps.get(i), name + ": progress " + i);
        }
        GeneratedImage image = result.images().get(0);
        assertEquals(r.outputWidth(), image.width());
        assertEquals(r.outputHeight(), image.height());
        InitImage png = InitImage.decode(image.png(), "png", 1 << 24);
        assertEquals(r.outputWidth(), png.width());
        assertEquals(r.outputHeight(), png.height());
        int[] u8 = Fixtures.u8Diff(png.rgb(), ref(name + ".image_u8").toByteArray());
        System.out.printf("hires %-40s generate: %dx%d, %d steps (%d + %d), u8 max diff %d (%d values)%n", name,
                png.width(), png.height(), total, firstRun, total - firstRun, u8[0], u8[1]);
        assertTrue(u8[0] <= 1, name + ": generate's 8-bit image differs by " + u8[0] + " levels");
        assertTrue(new String(image.png(), java.nio.charset.StandardCharsets.ISO_8859_1).contains("Hires upscale: "),
                name + ": the infotext names the second pass");
    }

    private static Sampler newSampler(GenerationRequest r) {
        Sampler s = dev.sdcfg.sampler.SamplerFactory.create(r.sampler(),
                StableDiffusionPipeline.asStableDiffusionPipelineSees(dev.sdcfg.model.config.JsonConfig.read(
                        Fixtures.resource("random-model").resolve("scheduler").resolve("scheduler_config.json"))),
                r.samplerOptions().toJson());
        s.setTimesteps(r.steps());
        return s;
    }
}
