package dev.sdcfg.pipeline;

import dev.sdcfg.pipeline.image.PngEncoder;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.sampler.SamplerFactory;
import dev.sdcfg.testutil.Fixtures;
import dev.sdcfg.guidance.GuidanceSpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Pipeline behaviour beyond the goldens: every sampler, non-square sizes, seeds per image, skipped passes. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class StableDiffusionPipelineTest {

    private StableDiffusionPipeline pipe;

    @BeforeAll
    void load() {
        pipe = StableDiffusionPipeline.load(Fixtures.model(), ComputeContext.cpu(), PipelineOptions.defaults());
    }

    @AfterAll
    void close() {
        pipe.close();
    }

    private static GenerationRequest req(String sampler, int w, int h, int steps, String guidance, long seed, int n) {
        return new GenerationRequest("a lighthouse", "", w, h, steps, sampler, null, GuidanceSpec.parse(guidance), seed,
                n);
    }

    @Test
    void everySamplerRunsOnANonSquareImage() {
        for (String name : SamplerFactory.names()) {
            GenerationResult r = pipe.generate(req(name, 64, 96, 3, null, 5, 1), GenerationListener.NONE);
            BufferedImage img = PngEncoder.decode(r.images().get(0).png());
            assertEquals(64, img.getWidth(), name);
            assertEquals(96, img.getHeight(), name);
            Map<String, String> text = PngEncoder.readText(r.images().get(0).png());
            assertEquals(name, text.get("sampler"), name);
            assertEquals("5", text.get("seed"), name);
        }
    }

    @Test
    void imageIOfNIsTheImageOfSeedPlusI() {
        GenerationResult both = pipe.generate(req("euler", 64, 64, 4, "7.5", 100, 2), GenerationListener.NONE);
        GenerationResult second = pipe.generate(req("euler", 64, 64, 4, "7.5", 101, 1), GenerationListener.NONE);
        assertEquals(List.of(100L, 101L), List.of(both.images().get(0).seed(), both.images().get(1).seed()));
        assertArrayEquals(pixels(second.images().get(0).png()), pixels(both.images().get(1).png()));
        assertFalse(java.util.Arrays.equals(pixels(both.images().get(0).png()), pixels(both.images().get(1).png())));
    }

    @Test
    void stepsOutsideTheGuidanceIntervalSkipTheUnconditionalPass() {
        List<Integer> unetCalls = new ArrayList<>();
        AtomicInteger steps = new AtomicInteger();
        GenerationListener counting = new GenerationListener() {
            @Override
            public void onUnetForward(long nanos) {
                unetCalls.add(1);
            }

            @Override
            public void onStep(int image, int step, int total, long nanos) {
                steps.incrementAndGet();
                assertEquals(10, total);
            }
        };
        GenerationResult full = pipe.generate(req("euler", 64, 64, 10, "7.5", 1, 1), counting);
        assertEquals(10, steps.get());
        assertEquals(10, unetCalls.size());
        // Interval [0, 0.5): 5 guided steps (batch-2 pass) + 5 conditional-only passes; still one UNet call per step,
        // and the images differ because the second half is unguided.
        unetCalls.clear();
        GenerationResult half = pipe.generate(req("euler", 64, 64, 10,
                "{\"g\":7.5,\"interval\":{\"start\":0,\"end\":0.5}}", 1, 1), GenerationListener.NONE);
        assertFalse(java.util.Arrays.equals(pixels(full.images().get(0).png()), pixels(half.images().get(0).png())));
        // g = 1 everywhere equals the conditional prediction alone: plain CFG at g=1 vs interval that is never on
        GenerationResult g1 = pipe.generate(req("euler", 64, 64, 6, "1.0", 3, 1), GenerationListener.NONE);
        GenerationResult off = pipe.generate(req("euler", 64, 64, 6,
                "{\"g\":7.5,\"interval\":{\"start\":0,\"end\":0.1}}", 3, 1), GenerationListener.NONE);
        int[] a = pixels(g1.images().get(0).png());
        int[] b = pixels(off.images().get(0).png());
        int maxDiff = 0;
        for (int i = 0; i < a.length; i++) {
            for (int sh = 0; sh < 24; sh += 8) {
                maxDiff = Math.max(maxDiff, Math.abs(((a[i] >> sh) & 0xFF) - ((b[i] >> sh) & 0xFF)));
            }
        }
        assertTrue(maxDiff <= 1, "u + 1·(t − u) and t alone differ by " + maxDiff + " levels");
    }

    @Test
    void twoCallSamplersReportEachRequestedStepOnce() {
        // Heun and DPM2 make 2·steps − 1 model calls; progress still counts the requested steps, in order
        for (String sampler : List.of("heun", "dpm2", "dpm2_karras", "dpm2_ancestral", "dpm2_ancestral_karras")) {
            List<Integer> unetCalls = new ArrayList<>();
            List<Integer> steps = new ArrayList<>();
            GenerationListener counting = new GenerationListener() {
                @Override
                public void onUnetForward(long nanos) {
                    unetCalls.add(1);
                }

                @Override
                public void onStep(int image, int step, int total, long nanos) {
                    steps.add(step);
                    assertEquals(4, total, sampler);
                }
            };
            pipe.generate(req(sampler, 64, 64, 4, "7.5", 1, 1), counting);
            assertEquals(7, unetCalls.size(), sampler + ": model calls");
            assertEquals(List.of(0, 1, 2, 3), steps, sampler + ": progress");
        }
    }

    /** Collects the previews a job makes. */
    private static final class PreviewRecorder implements GenerationListener {
        final int every;
        final List<int[]> at = new ArrayList<>(); // {image, step, total}
        final List<LatentPreview.Image> images = new ArrayList<>();

        PreviewRecorder(int every) {
            this.every = every;
        }

        @Override
        public int previewEvery() {
            return every;
        }

        @Override
        public void onPreview(int image, int step, int totalSteps, LatentPreview.Image preview) {
            at.add(new int[] {image, step, totalSteps});
            images.add(preview);
        }
    }

    @Test
    void previewsComeOnTheirStepsLatentSizedAndLeaveTheImageUnchanged() {
        // the sigma form, two-call steps, KDPM2's interpolated sigma, integer timesteps with PNDM's warm-up calls
        for (String sampler : List.of("euler", "heun", "dpm2_ancestral", "pndm")) {
            GenerationRequest r = req(sampler, 64, 96, 5, "7.5", 21, 2);
            GenerationResult without = pipe.generate(r, GenerationListener.NONE);
            int live = liveArrays();
            PreviewRecorder rec = new PreviewRecorder(2);
            GenerationResult with = pipe.generate(r, rec);
            assertEquals(live, liveArrays(), sampler + ": previews leave no arrays behind");
            // after steps 2 and 4 (0-based 1 and 3) of each image; none after the last step
            assertEquals(List.of(List.of(0, 1, 5), List.of(0, 3, 5), List.of(1, 1, 5), List.of(1, 3, 5)),
                    rec.at.stream().map(a -> List.of(a[0], a[1], a[2])).toList(), sampler);
            for (LatentPreview.Image img : rec.images) {
                BufferedImage decoded = PngEncoder.decode(img.png());
                assertEquals(8, decoded.getWidth(), sampler);
                assertEquals(12, decoded.getHeight(), sampler);
                assertEquals(8, img.width());
                assertEquals(12, img.height());
            }
            for (int i = 0; i < 2; i++) {
                assertArrayEquals(pixels(without.images().get(i).png()), pixels(with.images().get(i).png()),
                        sampler + ": previews do not change the image");
            }
        }
        PreviewRecorder off = new PreviewRecorder(0);
        pipe.generate(req("euler", 64, 64, 4, "7.5", 1, 1), off);
        assertTrue(off.at.isEmpty(), "preview_every 0: no previews");
    }

    /**
     * The preview is x0 of the step's model call: Euler's step is x' = x + (x − x0)/σ·(σ' − σ), so from the latents
     * before and after a step x0 = x − (x' − x)·σ/(σ' − σ); its projection must be the preview (within one level:
     * the two x0 differ in float32 rounding).
     */
    @Test
    void thePreviewIsTheProjectionOfTheStepsX0() {
        GenerationRequest r = req("euler", 64, 64, 4, "7.5", 5, 1);
        PreviewRecorder rec = new PreviewRecorder(2);
        List<float[]> latents = new ArrayList<>();
        try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager(pipe.context().device())) {
            latents.add(pipe.initialNoise(5, 64, 64, m).toType(ai.djl.ndarray.types.DataType.FLOAT32, false)
                    .toFloatArray());
            ai.djl.ndarray.NDArray cond = pipe.encodePrompt("a lighthouse", "prompt", null, m);
            ai.djl.ndarray.NDArray uncond = pipe.encodePrompt("", "negative_prompt", null, m);
            pipe.denoise(r, 5, 0, cond, uncond, rec, m, (step, x) -> latents.add(
                    x.toType(ai.djl.ndarray.types.DataType.FLOAT32, false).toFloatArray()));
        }
        double[] sigmas;
        double initSigma;
        try (dev.sdcfg.sampler.Sampler s = SamplerFactory.create("euler", StableDiffusionPipeline
                .asStableDiffusionPipelineSees(dev.sdcfg.model.config.JsonConfig.read(
                        Fixtures.model().resolve("scheduler/scheduler_config.json"))), new com.google.gson.JsonObject())) {
            s.setTimesteps(4);
            sigmas = s.sigmas();
            initSigma = s.initNoiseSigma();
        }
        // latents[0] is unit noise: the loop starts from it times init_noise_sigma
        float[] x = latents.get(0).clone();
        for (int k = 0; k < x.length; k++) {
            x[k] *= (float) initSigma;
        }
        latents.set(0, x);
        assertEquals(1, rec.images.size(), "one preview: after step 2 of 4");
        int c = 1; // the 0-based step of the preview
        float[] before = latents.get(c);
        float[] after = latents.get(c + 1);
        float[] x0 = new float[before.length];
        for (int k = 0; k < x0.length; k++) {
            x0[k] = (float) (before[k] - (after[k] - before[k]) * sigmas[c] / (sigmas[c + 1] - sigmas[c]));
        }
        byte[] expected = LatentPreview.toRgb(x0, 8, 8);
        BufferedImage img = PngEncoder.decode(rec.images.get(0).png());
        int maxDiff = 0;
        for (int p = 0; p < 64; p++) {
            int rgb = img.getRGB(p % 8, p / 8);
            for (int ch = 0; ch < 3; ch++) {
                int got = (rgb >> (16 - 8 * ch)) & 0xff;
                maxDiff = Math.max(maxDiff, Math.abs(got - (expected[3 * p + ch] & 0xff)));
            }
        }
        assertTrue(maxDiff <= 1, "preview vs x0 from the trajectory: " + maxDiff + " levels");
    }

    @Test
    void cancellationStopsBetweenSteps() {
        AtomicInteger done = new AtomicInteger();
        GenerationListener cancelAfterTwo = new GenerationListener() {
            @Override
            public boolean isCanceled() {
                return done.get() >= 2;
            }

            @Override
            public void onStep(int image, int step, int total, long nanos) {
                done.incrementAndGet();
            }
        };
        assertThrows(GenerationCanceledException.class,
                () -> pipe.generate(req("euler", 64, 64, 20, null, 1, 1), cancelAfterTwo));
        assertEquals(2, done.get());
    }

    @Test
    void invalidRequestsNameTheField() {
        assertEquals("sampler", assertThrows(InvalidRequestException.class,
                () -> pipe.validate(req("nope", 64, 64, 2, null, 1, 1))).field());
        assertEquals("width", assertThrows(InvalidRequestException.class,
                () -> pipe.validate(req(null, 60, 64, 2, null, 1, 1))).field());
        assertEquals("sampler_options.bogus", assertThrows(InvalidRequestException.class,
                () -> pipe.validate(new GenerationRequest("a", "", 64, 64, 2, "euler",
                        SamplerOverrides.parse("{\"bogus\":1}"), null, 1, 1)))
                .field());
        assertEquals("guidance.g", assertThrows(InvalidRequestException.class,
                () -> pipe.validate(req("euler", 64, 64, 2, "{\"g\":[1,2,3]}", 1, 1))).field());
    }

    @Test
    void repeatedJobsLeaveNoLiveArrays() {
        // the first job caches the empty-prompt embedding; count from there
        pipe.generate(req("euler_ancestral", 64, 64, 3, null, 1, 1), GenerationListener.NONE);
        int before = liveArrays();
        for (String sampler : List.of("euler_ancestral", "dpmpp_2m", "unipc", "pndm", "lms", "dpm2_ancestral")) {
            for (String g : List.of("7.5", "{\"preset\":\"FullNormGuidance_Sched_TCos\"}",
                    "{\"normalizer\":\"apg\",\"g\":5,\"momentum\":-0.5}", "{\"g\":3,\"interval\":{\"start\":0.5}}")) {
                pipe.generate(req(sampler, 64, 64, 4, g, 2, 2), GenerationListener.NONE);
            }
        }
        assertThrows(GenerationCanceledException.class, () -> pipe.generate(req("lms", 64, 64, 4, null, 1, 1),
                new GenerationListener() {
                    @Override
                    public boolean isCanceled() {
                        return true;
                    }
                }));
        assertEquals(before, liveArrays(), "NDArrays alive across all managers of the engine");
    }

    /** Arrays attached to any manager of the engine (every manager descends from the system manager). */
    private static int liveArrays() {
        try (ai.djl.ndarray.NDManager probe = ai.djl.ndarray.NDManager.newBaseManager()) {
            return probe.getParentManager().getManagedArrays().size();
        }
    }

    @Test
    void aVaeShiftFactorIsIgnoredAsInDiffusersStableDiffusionPipeline() throws Exception {
        java.nio.file.Path dir = java.nio.file.Files.createTempDirectory("sd-shift-");
        try (java.util.stream.Stream<java.nio.file.Path> files = java.nio.file.Files.walk(Fixtures.model())) {
            for (java.nio.file.Path f : (Iterable<java.nio.file.Path>) files::iterator) {
                java.nio.file.Path to = dir.resolve(Fixtures.model().relativize(f).toString());
                if (java.nio.file.Files.isDirectory(f)) {
                    java.nio.file.Files.createDirectories(to);
                } else {
                    java.nio.file.Files.copy(f, to);
                }
            }
        }
        java.nio.file.Path vaeConfig = dir.resolve("vae/config.json");
        com.google.gson.JsonObject c = com.google.gson.JsonParser.parseString(java.nio.file.Files.readString(vaeConfig))
                .getAsJsonObject();
        c.addProperty("shift_factor", 0.5);
        java.nio.file.Files.writeString(vaeConfig, c.toString());
        try (StableDiffusionPipeline shifted = StableDiffusionPipeline.load(dir, ComputeContext.cpu(), PipelineOptions.defaults())) {
            assertEquals(0.5, shifted.vae().shiftFactor(), 0.0);
            GenerationRequest r = req("lms", 64, 64, 2, "7.5", 3, 1);
            assertArrayEquals(pixels(pipe.generate(r, GenerationListener.NONE).images().get(0).png()),
                    pixels(shifted.generate(r, GenerationListener.NONE).images().get(0).png()));
        }
    }

    private static int[] pixels(byte[] png) {
        BufferedImage img = PngEncoder.decode(png);
        return img.getRGB(0, 0, img.getWidth(), img.getHeight(), null, 0, img.getWidth());
    }
}
