package dev.sdcfg.pipeline;

import com.google.gson.JsonObject;
import dev.sdcfg.guidance.GuidanceSpec;
import dev.sdcfg.pipeline.image.Infotext;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A1111's second-pass infotext keys: written as A1111 writes them (modules/processing.py: "Denoising strength",
 * "Hires upscale", "Hires steps" only when not 0, "Hires upscaler" with A1111's upscaler names) and read back into
 * {@code hires} by {@link GenerationInfotext#request}; upscalers without a counterpart here leave the pass out with a
 * warning.
 */
class HiresInfotextTest {

    private static GenerationRequest request(HiresFix h) {
        return new GenerationRequest("a lighthouse", "", 64, 48, 20, "euler", null, GuidanceSpec.parse("7"), 5, 1)
                .withHires(h);
    }

    @Test
    void writesA1111KeysAndReadsThemBack() {
        HiresFix h = new HiresFix(1.5, 10, 0.45, HiresFix.Upscaler.LANCZOS);
        String text = GenerationInfotext.write(request(h), 5, "demo", null, "PNDMScheduler", 0);
        assertTrue(text.endsWith("Steps: 20, Sampler: Euler, CFG scale: 7.0, Seed: 5, Size: 64x48, Model: demo, "
                + "Denoising strength: 0.45, Hires upscale: 1.5, Hires steps: 10, Hires upscaler: Lanczos"), text);
        JsonObject body = GenerationInfotext.request(Infotext.parse(text), "PNDMScheduler").body();
        JsonObject back = body.getAsJsonObject("hires");
        assertEquals(1.5, back.get("scale").getAsDouble());
        assertEquals(10, back.get("steps").getAsInt());
        assertEquals(0.45, back.get("strength").getAsDouble());
        assertEquals("lanczos", back.get("upscaler").getAsString());
        assertEquals(64, body.get("width").getAsInt(), "Size is the first pass's, as A1111 writes it");
    }

    @Test
    void stepsZeroIsLeftOutAsA1111Does() {
        String text = GenerationInfotext.write(request(new HiresFix(2, 0, 0.7, HiresFix.Upscaler.LATENT)), 5, "demo",
                null, "PNDMScheduler", 0);
        assertFalse(text.contains("Hires steps"), text);
        assertTrue(text.contains("Hires upscaler: Latent"), text);
        JsonObject back = GenerationInfotext.request(Infotext.parse(text), null).body().getAsJsonObject("hires");
        assertFalse(back.has("steps"), "absent steps: the request's default, 0");
        assertEquals("latent", back.get("upscaler").getAsString());
    }

    @Test
    void a1111UpscalerWithoutCounterpartIsDroppedWithAWarning() {
        String text = "a cat\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 512x512, Denoising strength: 0.7, "
                + "Hires upscale: 2, Hires steps: 15, Hires upscaler: R-ESRGAN 4x+";
        GenerationInfotext.Request r = GenerationInfotext.request(Infotext.parse(text), null);
        assertFalse(r.body().has("hires"));
        assertTrue(r.warnings().stream().anyMatch(w -> w.contains("R-ESRGAN 4x+")), r.warnings().toString());
        // A1111 leaves the upscaler out when the request named none: its default, Latent
        String noName = "a cat\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Size: 512x512, Hires upscale: 2";
        JsonObject h = GenerationInfotext.request(Infotext.parse(noName), null).body().getAsJsonObject("hires");
        assertEquals("latent", h.get("upscaler").getAsString());
        assertEquals(2.0, h.get("scale").getAsDouble());
    }
}
