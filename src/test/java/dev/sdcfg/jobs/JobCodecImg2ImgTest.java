package dev.sdcfg.jobs;

import dev.sdcfg.pipeline.GenerationRequest;
import dev.sdcfg.pipeline.Img2ImgInput;
import dev.sdcfg.pipeline.InitImage;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/** A job's init image, mask and strength survive the shared store's text form exactly (Redis mode). */
class JobCodecImg2ImgTest {

    @Test
    void initImageRoundTripsExactly() {
        byte[] rgb = new byte[16 * 8 * 3];
        for (int i = 0; i < rgb.length; i++) {
            rgb[i] = (byte) (i * 37);
        }
        byte[] mask = new byte[rgb.length];
        for (int i = 0; i < mask.length; i++) {
            mask[i] = (byte) (i % 5 == 0 ? 255 : 0);
        }
        GenerationRequest r = new GenerationRequest("a fox", "", 16, 8, 4, "euler", null, null, 3, 1,
                new Img2ImgInput(new InitImage(16, 8, rgb), 0.35, new InitImage(16, 8, mask)));
        List<JobTask> back = JobCodec.tasks(JobCodec.tasks(List.of(new JobTask(null, r))));
        Img2ImgInput in = back.get(0).request().img2img();
        assertEquals(0.35, in.strength());
        assertEquals(16, in.image().width());
        assertEquals(8, in.image().height());
        assertArrayEquals(rgb, in.image().rgb());
        assertArrayEquals(mask, in.mask().rgb());
        GenerationRequest noMask = new GenerationRequest("a fox", "", 16, 8, 4, null, null, null, 3, 1,
                new Img2ImgInput(new InitImage(16, 8, rgb), 0.5));
        assertNull(JobCodec.tasks(JobCodec.tasks(List.of(new JobTask(null, noMask)))).get(0).request().img2img()
                .mask());
        GenerationRequest plain = new GenerationRequest("a fox", "", 16, 8, 4, null, null, null, 3, 1);
        assertNull(JobCodec.tasks(JobCodec.tasks(List.of(new JobTask(null, plain)))).get(0).request().img2img());
        assertNull(JobCodec.tasks(JobCodec.tasks(List.of(new JobTask(null, plain)))).get(0).request().hires());
    }

    @Test
    void maskBlurAndHiresRoundTrip() {
        byte[] rgb = new byte[16 * 8 * 3];
        GenerationRequest blurred = new GenerationRequest("a fox", "", 16, 8, 4, "euler", null, null, 3, 1,
                new Img2ImgInput(new InitImage(16, 8, rgb), 0.5, new InitImage(16, 8, rgb), 6));
        assertEquals(6, JobCodec.tasks(JobCodec.tasks(List.of(new JobTask(null, blurred)))).get(0).request()
                .img2img().maskBlur());
        assertEquals(Img2ImgInput.FULL_RES_OFF, JobCodec.tasks(JobCodec.tasks(List.of(new JobTask(null, blurred))))
                .get(0).request().img2img().fullResPadding());
        GenerationRequest onlyMasked = blurred.withImg2img(new Img2ImgInput(new InitImage(16, 8, rgb), 0.5,
                new InitImage(16, 8, rgb), 6, 12));
        assertEquals(12, JobCodec.tasks(JobCodec.tasks(List.of(new JobTask(null, onlyMasked)))).get(0).request()
                .img2img().fullResPadding());
        GenerationRequest filled = blurred.withImg2img(new Img2ImgInput(new InitImage(16, 8, rgb), 0.5,
                new InitImage(16, 8, rgb), 0, Img2ImgInput.FULL_RES_OFF, dev.sdcfg.pipeline.MaskedContent.LATENT_NOISE));
        assertEquals(dev.sdcfg.pipeline.MaskedContent.LATENT_NOISE, JobCodec.tasks(JobCodec.tasks(List.of(
                new JobTask(null, filled)))).get(0).request().img2img().maskedContent());
        dev.sdcfg.pipeline.HiresFix h = new dev.sdcfg.pipeline.HiresFix(1.75, 9, 0.45,
                dev.sdcfg.pipeline.HiresFix.Upscaler.LANCZOS);
        GenerationRequest hires = new GenerationRequest("a fox", "", 16, 8, 4, "euler", null, null, 3, 1).withHires(h);
        assertEquals(h, JobCodec.tasks(JobCodec.tasks(List.of(new JobTask(null, hires)))).get(0).request().hires());
    }
}
