package dev.sdcfg.pipeline;

import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A request with a second pass is planned at its larger size: the plan is the target size's, a second pass that does
 * not fit is refused on {@code hires.scale} (while its first pass alone would fit), and the lanczos upscaler, whose
 * VAE encode has no tiles, is refused where the larger image would be decoded in tiles.
 */
class HiresMemoryTest {

    private static final long MIB = 1L << 20;

    private static GenerationRequest text(int side) {
        return new GenerationRequest("a fox", "", side, side, 4, "euler", null, null, 1, 1);
    }

    @Test
    void secondPassIsWhatIsPlanned() {
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(Fixtures.model(), ComputeContext.cpu(),
                new PipelineOptions(null, 0, 0, 1024L * 1024L, Long.toString(640 * MIB)))) {
            pipe.calibrateMemory();
            GenerationRequest latent = text(256).withHires(new HiresFix(2, 0, 0.5, HiresFix.Upscaler.LATENT));
            MemoryPlan big = pipe.memoryPlan(text(512));
            MemoryPlan planned = pipe.memoryPlan(latent);
            assertEquals(big.needs(), planned.needs(), "256 px × 2 is planned as 512 px");
            assertEquals(big.vaeTile(), planned.vaeTile());
            assertTrue(planned.vaeTile() > 0 && pipe.memoryPlan(text(256)).vaeTile() == 0,
                    "under 640 MiB only the second pass needs VAE tiles");
            pipe.validate(latent); // latents are decoded in tiles; nothing is encoded
            InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> pipe.validate(
                    text(256).withHires(new HiresFix(2, 0, 0.5, HiresFix.Upscaler.LANCZOS))));
            assertEquals("hires.upscaler", e.field());
            pipe.validate(text(128).withHires(new HiresFix(1.5, 0, 0.5, HiresFix.Upscaler.LANCZOS)));
        }
        // a second pass too large for the budget while its first pass fits: refused on hires.scale, before any step
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(Fixtures.model(), ComputeContext.cpu(),
                new PipelineOptions(null, 0, 0, 4096L * 4096L, Long.toString(640 * MIB)))) {
            pipe.calibrateMemory();
            int side = 256;
            assertTrue(pipe.memoryPlan(text(side)).fits());
            double scale = 1;
            while (scale <= 4 && pipe.memoryPlan(text(side).withHires(
                    new HiresFix(scale, 0, 0.5, HiresFix.Upscaler.LATENT))).fits()) {
                scale += 0.5;
            }
            assertTrue(scale <= 4, "some second pass of 256 px must exceed a 640 MiB budget");
            HiresFix tooBig = new HiresFix(scale, 0, 0.5, HiresFix.Upscaler.LATENT);
            assertFalse(pipe.memoryPlan(text(side).withHires(tooBig)).fits());
            InvalidRequestException e = assertThrows(InvalidRequestException.class,
                    () -> pipe.validate(text(side).withHires(tooBig)));
            assertEquals("hires.scale", e.field(), e.getMessage());
            assertTrue(e.getMessage().startsWith("the second pass at " + tooBig.targetSide(side) + "x"), e.getMessage());
        }
    }
}
