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
import dev.sdcfg.sampler.SamplerFactory;
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
 * <p>{@code parity-extra/inpaint-blur} (tools/img2img-goldens/gen_mask_blur.py) adds {@code mask_blur}: the same
 * pipeline given the mask blurred by diffusers' own {@code VaeImageProcessor.blur} (PIL's GaussianBlur), radius 4 on
 * the 4-channel UNet (Euler 0.75) and 2 on the 9-channel one (PNDM 1); the blurred mask must be PIL's byte for byte.
 *
 * <p>{@code parity-extra/inpaint-full-res} (tools/img2img-goldens/gen_full_res.py) is inpainting "only masked":
 * diffusers' pipeline with {@code padding_mask_crop} 8, 3 and 0 (masks blurred by 0, 3 and 2) on a small mask. There
 * the crop box must be diffusers', the fill-resized image and mask PIL's byte for byte, the trajectory within the
 * limits below, the paste-back ({@code apply_overlay}) of the golden's own 8-bit result PIL's byte for byte, and the
 * whole request through {@link StableDiffusionPipeline#generate} within one 8-bit level of the pipeline's output.
 *
 * <p>{@code parity-extra/inpaint-content} (tools/img2img-goldens/gen_masked_content.py) is {@code masked_content}:
 * A1111's own {@code masking.fill} on the start image (mask blurred by 4, and sharp on the 9-channel UNet), and A1111's
 * latent definitions ({@code init_latent * mask}, {@code + randn(seed) * nmask}) on the latents diffusers' pipeline
 * encodes, below strength 1; the filled image must be A1111's byte for byte.
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
    private JsonObject blurNotes;
    private Safetensors blurGolden;
    private JsonObject contentNotes;
    private Safetensors contentGolden;
    private JsonObject fullResNotes;
    private Safetensors fullResGolden;
    private InitImage smallMask;
    private StableDiffusionPipeline pipe4;
    private StableDiffusionPipeline pipe9;
    private Path model9;
    private NDManager manager;
    private InitImage image;
    private InitImage mask;

    @BeforeAll
    void load() throws IOException {
        Path caseDir = Fixtures.resource("parity-extra/inpaint");
        notes = GoldenReplay.notes(caseDir);
        golden = Safetensors.open(caseDir.resolve("golden.safetensors"));
        Path blurDir = Fixtures.resource("parity-extra/inpaint-blur");
        blurNotes = GoldenReplay.notes(blurDir);
        blurGolden = Safetensors.open(blurDir.resolve("golden.safetensors"));
        Path contentDir = Fixtures.resource("parity-extra/inpaint-content");
        contentNotes = GoldenReplay.notes(contentDir);
        contentGolden = Safetensors.open(contentDir.resolve("golden.safetensors"));
        Path fullResDir = Fixtures.resource("parity-extra/inpaint-full-res");
        fullResNotes = GoldenReplay.notes(fullResDir);
        fullResGolden = Safetensors.open(fullResDir.resolve("golden.safetensors"));
        smallMask = InitImage.decode(Files.readAllBytes(fullResDir.resolve("mask_small.png")), "mask", 1 << 20);
        pipe4 = StableDiffusionPipeline.load(Fixtures.resource("random-model"), ComputeContext.cpu(),
                PipelineOptions.defaults());
        model9 = Files.createTempDirectory("inpaint-parity").resolve("model");
        Sd2PipelineParityTest.assemble(Fixtures.resource("random-model"), caseDir.resolve("unet9"), model9);
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
        blurGolden.close();
        fullResGolden.close();
        contentGolden.close();
        GoldenReplay.deleteTree(model9.getParent());
    }

    /** The golden of a run: the blur set's when its request has mask_blur. */
    private Safetensors goldenOf(JsonObject run) {
        JsonObject q = run.getAsJsonObject("request");
        return q.has("masked_content") ? contentGolden : q.has("inpaint_full_res") ? fullResGolden
                : q.has("mask_blur") ? blurGolden : golden;
    }

    private NDArray ref(JsonObject run, String key) throws IOException {
        return goldenOf(run).load(key, manager, null);
    }

    private GenerationRequest request(JsonObject run) {
        JsonObject q = run.getAsJsonObject("request");
        double strength = q.get("strength").getAsDouble();
        int blur = q.has("mask_blur") ? q.get("mask_blur").getAsInt() : 0;
        if (q.has("masked_content")) {
            return GoldenReplay.request(run, new Img2ImgInput(image, strength, mask, blur, Img2ImgInput.FULL_RES_OFF,
                    MaskedContent.of(q.get("masked_content").getAsString())));
        }
        if (q.has("inpaint_full_res")) {
            return GoldenReplay.request(run, new Img2ImgInput(image, strength, smallMask, blur,
                    q.get("inpaint_full_res_padding").getAsInt()));
        }
        return GoldenReplay.request(run, new Img2ImgInput(image, strength, mask, blur));
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

    @Test
    void nineChannelModelWarmsUpAndPlansMemory() {
        pipe9.warmUp(); // an inpainting request (text to image cannot run on it)
        assertTrue(pipe9.memoryPlan(new GenerationRequest("a", "", 64, 48, 4, null, null, null, 1, 1)).fits());
    }

    @TestFactory
    List<DynamicTest> runs() {
        return GoldenReplay.perRun(notes, "mask and start", this::checkStart, this::checkRun);
    }

    @TestFactory
    List<DynamicTest> blurredMaskRuns() {
        return GoldenReplay.perRun(blurNotes, "mask and start", this::checkStart, this::checkRun);
    }

    @TestFactory
    List<DynamicTest> fullResRuns() {
        return GoldenReplay.perRun(fullResNotes, "crop, resize and paste-back", this::checkCrop, this::checkFullRes);
    }

    @TestFactory
    List<DynamicTest> maskedContentRuns() {
        return GoldenReplay.perRun(contentNotes, "start", this::checkContentStart, this::checkRun);
    }

    /** The filled image exactly (fill), the start latents within the limit. */
    private void checkContentStart(String name, JsonObject run) throws IOException {
        GenerationRequest r = request(run);
        if (r.img2img().maskedContent() == MaskedContent.FILL) {
            InitImage filled = MaskedContent.fill(image, r.img2img().effectiveMask());
            int[] d = Fixtures.u8Diff(filled.rgb(), ref(run, name + ".filled_u8").toByteArray());
            System.out.printf("inpaint %-34s masking.fill max diff %d (%d values)%n", name, d[0], d[1]);
            assertEquals(0, d[0], name + ": A1111's masking.fill differs in " + d[1] + " values");
        }
        StableDiffusionPipeline p = pipe(run);
        try (Sampler s = SamplerFactory.create(r.sampler(), StableDiffusionPipeline.asStableDiffusionPipelineSees(
                JsonConfig.read(Fixtures.resource("random-model").resolve("scheduler").resolve("scheduler_config.json"))),
                r.samplerOptions().toJson())) {
            s.setTimesteps(r.steps());
            ImageStart start = ImageStart.prepare(p.vae(), r.img2img(), r.seed(), s, Img2Img.firstCall(r, s),
                    p.unet().config().inChannels(), DataType.FLOAT32, manager);
            double es = Fixtures.relL2(start.latents(), ref(run, name + ".start_latents"));
            System.out.printf("inpaint %-34s start latents %.2e%n", name, es);
            assertTrue(es < TOL, name + " start latents relL2 " + es);
        }
    }

    /** The box, the fill-resized image and mask, and apply_overlay of the golden's own result, all exact. */
    private void checkCrop(String name, JsonObject run) throws IOException {
        GenerationRequest r = request(run);
        InitImage effective = r.img2img().effectiveMask();
        int[] d = Fixtures.u8Diff(effective.rgb(), ref(run, name + ".blurred_mask").toByteArray());
        assertEquals(0, d[0], name + ": blurred mask");
        MaskCrop crop = MaskCrop.of(effective, r.width(), r.height(), r.img2img().fullResPadding());
        long[] box = ref(run, name + ".crop").toLongArray();
        assertArrayEquals(box, new long[] {crop.x1(), crop.y1(), crop.x2(), crop.y2()}, name + " crop box");
        Img2ImgInput processed = crop.request(r, effective).img2img();
        NDArray pixels = manager.create(Img2Img.pixels(processed.image()), new Shape(1, 3, r.height(), r.width()));
        assertEquals(0.0, Fixtures.relL2(pixels, ref(run, name + ".image_in")), 0.0, name + " fill-resized image");
        NDArray cond = manager.create(Inpaint.maskCondition(processed.mask()), new Shape(1, 1, r.height(),
                r.width()));
        assertEquals(0.0, Fixtures.relL2(cond, ref(run, name + ".mask_condition")), 0.0, name + " fill-resized mask");
        byte[] pasted = crop.overlay(effective, image, new InitImage(r.width(), r.height(),
                ref(run, name + ".image_u8").toByteArray()));
        int[] o = Fixtures.u8Diff(pasted, ref(run, name + ".output_u8").toByteArray());
        System.out.printf("inpaint %-34s crop %s, paste-back max diff %d (%d values)%n", name,
                java.util.Arrays.toString(box), o[0], o[1]);
        assertEquals(0, o[0], name + ": apply_overlay differs in " + o[1] + " values");
    }

    /** The trajectory of the cropped request, then the whole request through generate. */
    private void checkFullRes(String name, JsonObject run) throws IOException {
        GenerationRequest r = request(run);
        InitImage effective = r.img2img().effectiveMask();
        MaskCrop crop = MaskCrop.of(effective, r.width(), r.height(), r.img2img().fullResPadding());
        int steps = (int) ref(run, name + ".run_timesteps").size();
        GoldenReplay.check("inpaint", pipe(run), crop.request(r, effective), name, steps, fullResGolden, manager, TOL);
        GenerationResult result = pipe(run).generate(r, GenerationListener.NONE);
        InitImage out = InitImage.decode(result.images().get(0).png(), "png", 1 << 20);
        int[] d = Fixtures.u8Diff(out.rgb(), ref(run, name + ".output_u8").toByteArray());
        System.out.printf("inpaint %-34s generate (pasted back): u8 max diff %d (%d values)%n", name, d[0], d[1]);
        assertTrue(d[0] <= 1, name + ": generate's output differs by " + d[0] + " levels");
    }

    private void checkStart(String name, JsonObject run) throws IOException {
        GenerationRequest r = request(run);
        StableDiffusionPipeline p = pipe(run);
        InitImage effective = r.img2img().effectiveMask();
        if (r.img2img().maskBlur() > 0) {
            int[] d = Fixtures.u8Diff(effective.rgb(), ref(run, name + ".blurred_mask").toByteArray());
            assertEquals(0, d[0], name + ": the blurred mask differs from PIL's GaussianBlur in " + d[1] + " values");
        }
        float[] cond = Inpaint.maskCondition(effective);
        NDArray ours = manager.create(cond, new Shape(1, 1, mask.height(), mask.width()));
        assertEquals(0.0, Fixtures.relL2(ours, ref(run, name + ".mask_condition")), 0.0, name + " mask_condition");
        NDArray latentMask = manager.create(Inpaint.latentMask(cond, mask.width(), mask.height(), 8),
                new Shape(1, 1, mask.height() / 8, mask.width() / 8));
        assertEquals(0.0, Fixtures.relL2(latentMask, ref(run, name + ".mask_latent")), 0.0, name + " latent mask");
        try (Sampler s = SamplerFactory.create(r.sampler(), StableDiffusionPipeline.asStableDiffusionPipelineSees(
                JsonConfig.read(Fixtures.resource("random-model").resolve("scheduler").resolve("scheduler_config.json"))),
                r.samplerOptions().toJson())) {
            s.setTimesteps(r.steps());
            int first = Img2Img.firstCall(r, s);
            double[] theirs = ref(run, name + ".run_timesteps").toDoubleArray();
            assertEquals(theirs.length, s.timesteps().length - first, name + " timesteps run");
            ImageStart start = ImageStart.prepare(p.vae(), r.img2img(), r.seed(), s, first,
                    p.unet().config().inChannels(), DataType.FLOAT32, manager);
            double es = Fixtures.relL2(start.latents(), ref(run, name + ".start_latents"));
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
        double em = Fixtures.relL2(latents, ref(run, name + ".masked_image_latents"));
        assertTrue(em < TOL, name + " masked image latents relL2 " + em);
    }

    private void checkRun(String name, JsonObject run) throws IOException {
        int steps = (int) ref(run, name + ".run_timesteps").size();
        GoldenReplay.check("inpaint", pipe(run), request(run), name, steps, goldenOf(run), manager, TOL);
    }
}
