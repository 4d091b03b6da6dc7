package dev.sdcfg.pipeline;

import ai.djl.Device;
import ai.djl.ndarray.types.DataType;
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

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The GPU's precision path (fp16 text encoder and UNet, fp32 VAE under force_upcast, fp16 latents between steps)
 * run on the CPU, where PyTorch 2.7 has half kernels for every op we use. CI has no GPU, so this is where a dtype
 * mix-up in that path (an fp16 tensor meeting an fp32 one, a sampler that forgets to upcast) would show: it runs
 * every sampler and every normalizer end to end in fp16 and compares the 8-bit images with the fp32 ones.
 *
 * <p>Bounds come from measurement on the tiny model (64×64, 6 steps): the CFG-family normalizers differ from fp32
 * by ≤ 0.16 levels on average and 2 levels at most; tnorm by ≤ 0.6 and 6, because it divides by ‖t − u‖, a
 * small difference of two fp16 predictions. The bounds (0.3 / 4 levels, tnorm 1.2 / 12) leave about 2×
 * headroom, far below what a wrong dtype or a skipped upcast produces (tens of levels, or NaN). The stochastic
 * samplers are included: their fp16 noise is drawn in float32 and cast (NoiseSource.drawType), so an fp16 run
 * is the same image as the fp32 run of its seed; drawn in fp16 it would be another noise realisation (tens of
 * levels apart), which is what this test would then report.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HalfPrecisionPathTest {

    private StableDiffusionPipeline fp32;
    private StableDiffusionPipeline fp16;

    @BeforeAll
    void load() {
        fp32 = StableDiffusionPipeline.load(Fixtures.model(), new ComputeContext(Device.cpu(), DataType.FLOAT32),
                PipelineOptions.defaults());
        // ComputeContext.resolve refuses fp16 on the CPU for users (slow kernels); the constructor does not
        fp16 = StableDiffusionPipeline.load(Fixtures.model(), new ComputeContext(Device.cpu(), DataType.FLOAT16),
                PipelineOptions.defaults());
    }

    @AfterAll
    void close() {
        fp32.close();
        fp16.close();
    }

    private static GenerationRequest req(String sampler, String guidance) {
        return new GenerationRequest("a red cube on a table", "blurry", 64, 64, 6, sampler, null,
                GuidanceSpec.parse(guidance), 7, 1);
    }

    @Test
    void everySamplerMatchesFp32() {
        List<String> report = new ArrayList<>();
        for (String sampler : SamplerFactory.names()) {
            int[] a = pixels(fp32, req(sampler, "7.5"));
            int[] b = pixels(fp16, req(sampler, "7.5"));
            double[] d = diff(a, b);
            report.add(String.format("%s mean %.3f max %.0f", sampler, d[0], d[1]));
            assertTrue(d[0] <= 0.3 && d[1] <= 4, sampler + ": fp16 differs from fp32 by mean " + d[0] + ", max " + d[1]);
        }
        System.out.println("fp16 vs fp32, 8-bit levels: " + report);
    }

    @Test
    void everyNormalizerMatchesFp32() {
        String[][] specs = {
                {"{\"normalizer\":\"none\",\"g\":7.5}", "0.3", "4"},
                {"{\"normalizer\":\"basenorm\",\"g\":5}", "0.3", "4"},
                {"{\"normalizer\":\"tnorm\",\"g\":5}", "1.2", "12"},
                {"{\"normalizer\":\"fullnorm\",\"g\":5}", "0.3", "4"},
                {"{\"normalizer\":\"rescale\",\"g\":7,\"phi\":0.7}", "0.3", "4"},
                {"{\"normalizer\":\"apg\",\"g\":5,\"momentum\":-0.5,\"norm_threshold\":15}", "0.3", "4"},
                {"{\"normalizer\":\"cfg-zero-star\",\"g\":5,\"zero_init_steps\":1}", "0.3", "4"},
                {"{\"normalizer\":\"none\",\"g\":{\"schedule\":\"cosine\",\"max\":9,\"min\":3}}", "0.3", "4"}};
        List<String> report = new ArrayList<>();
        for (String[] s : specs) {
            double[] d = diff(pixels(fp32, req("lms", s[0])), pixels(fp16, req("lms", s[0])));
            report.add(String.format("%s mean %.3f max %.0f", s[0], d[0], d[1]));
            assertTrue(d[0] <= Double.parseDouble(s[1]) && d[1] <= Double.parseDouble(s[2]),
                    s[0] + ": fp16 differs from fp32 by mean " + d[0] + ", max " + d[1]);
        }
        System.out.println("fp16 vs fp32 per normalizer, 8-bit levels: " + report);
    }

    @Test
    void latentsStayInTheModelDtypeBetweenSteps() {
        List<DataType> seen = new ArrayList<>();
        GenerationRequest r = req("dpmpp_2m", "7.5");
        fp16.validate(r);
        try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager(Device.cpu())) {
            var cond = fp16.encodePrompt(r.prompt(), "prompt", new ArrayList<>(), m);
            var uncond = fp16.encodePrompt(r.negativePrompt(), "negative_prompt", new ArrayList<>(), m);
            fp16.denoise(r, 7, 0, cond, uncond, GenerationListener.NONE, m, (step, latents) -> seen.add(latents.getDataType()));
        }
        assertEquals(6, seen.size());
        assertTrue(seen.stream().allMatch(t -> t == DataType.FLOAT16), seen.toString());
    }

    private static int[] pixels(StableDiffusionPipeline pipe, GenerationRequest r) {
        BufferedImage img = PngEncoder.decode(pipe.generate(r, GenerationListener.NONE).images().get(0).png());
        return img.getRGB(0, 0, img.getWidth(), img.getHeight(), null, 0, img.getWidth());
    }

    /** Mean and max absolute difference over all R, G, B values. */
    private static double[] diff(int[] a, int[] b) {
        double sum = 0;
        int max = 0;
        for (int i = 0; i < a.length; i++) {
            for (int shift = 0; shift < 24; shift += 8) {
                int d = Math.abs(((a[i] >> shift) & 255) - ((b[i] >> shift) & 255));
                sum += d;
                max = Math.max(max, d);
            }
        }
        return new double[] {sum / (a.length * 3.0), max};
    }
}
