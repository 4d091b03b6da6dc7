package dev.sdcfg.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.guidance.GuidanceSpec;
import dev.sdcfg.model.config.JsonConfig;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.sampler.Sampler;
import dev.sdcfg.sampler.SamplerFactory;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Inpainting against goldens made by diffusers' own {@code StableDiffusionInpaintPipeline} source
 * ({@code parity-extra/inpaint}, tools/img2img-goldens/gen_inpaint.py): the demo model's regular 4-channel UNet
 * (the unmasked latents blended back after each step) with PNDM at strength 1, Euler 0.75 and DPM++ 2M 0.6, and a
 * tiny 9-channel inpainting UNet (mask and masked-image latents concatenated) over a copy of the demo model with
 * PNDM at strength 1 and Euler ancestral 0.8. Start image {@code img2img/init.png}, mask {@code mask.png} (RGB, with
 * grey and coloured pixels on both sides of the threshold).
 *
 * <p>Per run: the binarized mask exactly, the latent mask exactly, the masked image's latents and the start latents
 * within 1e-4 (an fp32 VAE encoder forward), then every step's latents, the final latents and the decoded image
 * within 1e-4 and the 8-bit image within one level.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class InpaintParityTest {

    private static final double TOL = 1e-4;

    private JsonObject notes;
    private Safetensors golden;
    private StableDiffusionPipeline pipe4;
    private StableDiffusionPipeline pipe9;
    private Path model9;
    private NDManager manager;
    private InitImage image;
    private InitImage mask;

    @BeforeAll
    void load() throws IOException {
        Path caseDir = Fixtures.resource("parity-extra/inpaint");
        notes = JsonParser.parseString(Files.readString(caseDir.resolve("notes.json"), StandardCharsets.UTF_8))
                .getAsJsonObject();
        golden = Safetensors.open(caseDir.resolve("golden.safetensors"));
        pipe4 = StableDiffusionPipeline.load(Fixtures.resource("demo-model"), ComputeContext.cpu(),
                PipelineOptions.defaults());
        model9 = Files.createTempDirectory("inpaint-parity").resolve("model");
        Sd2PipelineParityTest.assemble(Fixtures.resource("demo-model"), caseDir.resolve("unet9"), model9);
        pipe9 = StableDiffusionPipeline.load(model9, ComputeContext.cpu(), PipelineOptions.defaults());
        manager = NDManager.newBaseManager();
        image = InitImage.decode(Files.readAllBytes(Fixtures.resource("parity-extra/img2img").resolve("init.png")),
                "init_image", 1 << 20);
        mask = InitImage.decode(Files.readAllBytes(caseDir.resolve("mask.png")), "mask", 1 << 20);
    }

    @AfterAll
    void close() throws IOException {
        manager.close();
        pipe4.close();
        pipe9.close();
        golden.close();
        try (Stream<Path> files = Files.walk(model9.getParent())) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }

    private NDArray ref(String key) throws IOException {
        return golden.load(key, manager, null);
    }

    private GenerationRequest request(JsonObject run) {
        JsonObject q = run.getAsJsonObject("request");
        return new GenerationRequest(q.get("prompt").getAsString(), q.get("negative_prompt").getAsString(),
                q.get("width").getAsInt(), q.get("height").getAsInt(), q.get("steps").getAsInt(),
                q.get("sampler").isJsonNull() ? null : q.get("sampler").getAsString(), null,
                GuidanceSpec.parse(q.get("guidance").getAsString()), q.get("seed").getAsLong(), 1,
                new Img2ImgInput(image, q.get("strength").getAsDouble(), mask));
    }

    private StableDiffusionPipeline pipe(JsonObject run) {
        return run.get("unet").getAsString().equals("unet9") ? pipe9 : pipe4;
    }

    @Test
    void nineChannelModelNeedsAMask() {
        assertTrue(pipe9.isInpaintingUnet());
        assertFalse(pipe4.isInpaintingUnet());
        InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> pipe9.validate(
                new GenerationRequest("a", "", 64, 48, 4, null, null, null, 1, 1)));
        assertEquals("init_image", e.field());
        e = assertThrows(InvalidRequestException.class, () -> pipe9.validate(
                new GenerationRequest("a", "", 64, 48, 4, null, null, null, 1, 1, new Img2ImgInput(image, 0.5))));
        assertEquals("mask", e.field());
    }

    @TestFactory
    List<DynamicTest> runs() {
        List<DynamicTest> tests = new ArrayList<>();
        assertFalse(notes.getAsJsonArray("runs").isEmpty(), "notes.json lists no runs");
        for (JsonElement e : notes.getAsJsonArray("runs")) {
            JsonObject run = e.getAsJsonObject();
            String name = run.get("name").getAsString();
            tests.add(DynamicTest.dynamicTest(name + " mask and start", () -> checkStart(name, run)));
            tests.add(DynamicTest.dynamicTest(name, () -> checkRun(name, run)));
        }
        return tests;
    }

    private void checkStart(String name, JsonObject run) throws IOException {
        GenerationRequest r = request(run);
        StableDiffusionPipeline p = pipe(run);
        float[] cond = Inpaint.maskCondition(mask);
        NDArray ours = manager.create(cond, new Shape(1, 1, mask.height(), mask.width()));
        assertEquals(0.0, Fixtures.relL2(ours, ref(name + ".mask_condition")), 0.0, name + " mask_condition");
        NDArray latentMask = manager.create(Inpaint.latentMask(cond, mask.width(), mask.height(), 8),
                new Shape(1, 1, mask.height() / 8, mask.width() / 8));
        assertEquals(0.0, Fixtures.relL2(latentMask, ref(name + ".mask_latent")), 0.0, name + " latent mask");
        try (Sampler s = SamplerFactory.create(r.sampler(), StableDiffusionPipeline.asStableDiffusionPipelineSees(
                JsonConfig.read(Fixtures.resource("demo-model").resolve("scheduler").resolve("scheduler_config.json"))),
                r.samplerOptions().toJson())) {
            s.setTimesteps(r.steps());
            int first = Img2Img.firstCall(r, s);
            double[] theirs = ref(name + ".run_timesteps").toDoubleArray();
            assertEquals(theirs.length, s.timesteps().length - first, name + " timesteps run");
            ImageStart start = ImageStart.prepare(p.vae(), r.img2img(), r.seed(), s, first,
                    p.unet().config().inChannels(), DataType.FLOAT32, manager);
            double es = Fixtures.relL2(start.latents(), ref(name + ".start_latents"));
            System.out.printf("inpaint %-34s start latents %.2e%n", name, es);
            assertTrue(es < TOL, name + " start latents relL2 " + es);
        }
        // the masked image's latents, drawn third from the seed (after the image's sample and the noise)
        NDArray masked = manager.create(Inpaint.maskedPixels(Img2Img.pixels(image), cond),
                new Shape(1, 3, image.height(), image.width()));
        NDArray moments = p.vae().encodeMoments(masked);
        // draws before it: the image's sample (unless a 9-channel UNet at strength 1 needs no image latents), noise
        int before = run.get("unet").getAsString().equals("unet9") && r.img2img().strength() == 1.0 ? 1 : 2;
        dev.sdcfg.runtime.DjlRuntime.seed(r.seed());
        NDArray draw = null;
        for (int k = 0; k <= before; k++) {
            draw = dev.sdcfg.sampler.NoiseSource.ENGINE_CPU.randn(new Shape(1, 4, 6, 8), DataType.FLOAT32, manager);
        }
        NDArray std = moments.split(2, 1).get(1).clip(-30.0, 20.0).mul(0.5).exp();
        NDArray latents = moments.split(2, 1).get(0).add(std.mul(draw)).mul(p.vae().scalingFactor());
        double em = Fixtures.relL2(latents, ref(name + ".masked_image_latents"));
        assertTrue(em < TOL, name + " masked image latents relL2 " + em);
    }

    private void checkRun(String name, JsonObject run) throws IOException {
        GenerationRequest r = request(run);
        StableDiffusionPipeline p = pipe(run);
        p.validate(r);
        int m = (int) ref(name + ".run_timesteps").size();
        Map<Integer, NDArray> seen = new HashMap<>();
        try (NDManager job = manager.newSubManager()) {
            NDArray cond = p.encodePrompt(r.prompt(), "prompt", null, job);
            NDArray uncond = p.encodePrompt(r.negativePrompt(), "negative_prompt", null, job);
            NDArray latents = p.denoise(r, r.seed(), 0, cond, uncond, GenerationListener.NONE, job, (step, x) -> {
                NDArray copy = x.duplicate();
                copy.attach(job);
                seen.put(step, copy);
            });
            assertEquals(m, seen.size(), name + ": model calls run");
            double worst = 0;
            for (int i = 0; i < m; i++) {
                double err = Fixtures.relL2(seen.get(i), ref(name + ".step" + i + ".latents"));
                worst = Math.max(worst, err);
                assertTrue(err < TOL, name + " step" + i + " relL2 " + err);
            }
            double ef = Fixtures.relL2(latents, ref(name + ".final_latents"));
            assertTrue(ef < TOL, name + " final_latents relL2 " + ef);
            NDArray decoded = p.decode(latents);
            decoded.attach(job);
            double ei = Fixtures.relL2(decoded, ref(name + ".image"));
            int[] u8 = Fixtures.u8Diff(StableDiffusionPipeline.toRgbBytes(decoded), ref(name + ".image_u8").toByteArray());
            System.out.printf("inpaint %-34s worst step %.2e  final %.2e  image %.2e  u8 max diff %d (%d values)%n",
                    name, worst, ef, ei, u8[0], u8[1]);
            assertTrue(ei < TOL, name + " image relL2 " + ei);
            assertTrue(u8[0] <= 1, name + ": 8-bit image differs by " + u8[0] + " levels");
        }
    }
}
