package dev.sdcfg.pipeline;

import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * A start image is encoded by the VAE whole (diffusers' tiled encode is not implemented): where the memory plan
 * would tile the VAE, image to image is refused up front (422 on init_image) rather than running out of memory.
 */
class Img2ImgMemoryTest {

    private static final long MIB = 1L << 20;

    @Test
    void startImageIsRefusedWhereTheVaeNeedsTiles() {
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(Fixtures.model(), ComputeContext.cpu(),
                new PipelineOptions(null, 0, 0, 1024L * 1024L, Long.toString(640 * MIB)))) {
            pipe.calibrateMemory();
            GenerationRequest text = new GenerationRequest("a fox", "", 512, 512, 2, "euler", null, null, 1, 1);
            assertTrue(pipe.memoryPlan(text).vaeTile() > 0, "512 px needs VAE tiles under 640 MiB");
            pipe.validate(text); // text to image decodes in tiles
            InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> pipe.validate(
                    new GenerationRequest("a fox", "", 512, 512, 2, "euler", null, null, 1, 1,
                            new Img2ImgInput(new InitImage(512, 512, new byte[512 * 512 * 3]), 0.5))));
            assertEquals("init_image", e.field());
            GenerationRequest small = new GenerationRequest("a fox", "", 128, 128, 2, "euler", null, null, 1, 1,
                    new Img2ImgInput(new InitImage(128, 128, new byte[128 * 128 * 3]), 0.5));
            assertFalse(pipe.memoryPlan(small).vaeTile() > 0);
            pipe.validate(small);
        }
    }
}
