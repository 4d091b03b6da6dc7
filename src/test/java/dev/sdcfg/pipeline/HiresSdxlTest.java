package dev.sdcfg.pipeline;

import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * The second pass on SDXL, whose added conditioning holds the image size: the tiny SDXL model of
 * {@code parity-extra/sdxl} runs a latent and a Lanczos second pass (the second pass re-encodes the prompt's time ids
 * at the target size), giving images of the target size with progress over both passes. No golden: diffusers has no
 * SDXL hires pipeline; the SD 1.x path is checked against the references in {@link HiresParityTest}.
 */
class HiresSdxlTest {

    @Test
    void sdxlRunsBothUpscalers() {
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(
                Fixtures.resource("parity-extra/sdxl").resolve("model"), ComputeContext.cpu(),
                PipelineOptions.defaults())) {
            assertEquals(ModelInfo.FAMILY_SDXL, pipe.family());
            byte[][] rgb = new byte[2][];
            int k = 0;
            for (HiresFix.Upscaler u : HiresFix.Upscaler.values()) {
                GenerationRequest r = new GenerationRequest("a lighthouse", "", 64, 48, 3, "euler", null, null, 7, 1)
                        .withHires(new HiresFix(1.5, 4, 0.5, u));
                List<Integer> totals = new ArrayList<>();
                GenerationResult result = pipe.generate(r, new GenerationListener() {
                    @Override
                    public void onStep(int image, int step, int totalSteps, long nanos) {
                        totals.add(totalSteps);
                    }
                });
                GeneratedImage image = result.images().get(0);
                assertEquals(96, image.width(), u.value());
                assertEquals(72, image.height(), u.value());
                assertEquals(List.of(5, 5, 5, 5, 5), totals, u.value() + ": 3 + int(4 × 0.5) steps");
                rgb[k++] = InitImage.decode(image.png(), "png", 1 << 20).rgb();
            }
            assertFalse(java.util.Arrays.equals(rgb[0], rgb[1]), "the two upscalers give different images");
        }
    }
}
