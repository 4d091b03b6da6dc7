package dev.sdcfg.pipeline;

import dev.sdcfg.guidance.GuidanceSpec;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.pipeline.image.PngEncoder;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.testutil.Fixtures;
import dev.sdcfg.testutil.LdmFixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * LoRAs through the pipeline: the kohya file and its diffusers/PEFT twin draw the same image, it differs from the
 * base, the base draws bit for bit the same before and after any LoRA set, and folder and single-file checkpoints
 * take a LoRA alike.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LoraPipelineTest {

    private Path dir;
    private Function<String, Path> loras;
    private final GenerationRequest req = new GenerationRequest("a red door", "", 64, 64, 3, "euler", null,
            GuidanceSpec.parse("7.5"), 11L, 1);

    @BeforeAll
    void files() throws IOException {
        dir = Files.createTempDirectory("lora-pipe-");
        LdmFixture.write(dir, "tiny");
        Path g = Fixtures.resource("parity-extra/lora");
        Map<String, Path> files = Map.of("kohya", g.resolve("kohya.safetensors"), "peft", g.resolve("peft.safetensors"));
        loras = name -> {
            Path p = files.get(name);
            if (p == null) {
                throw new ModelLoadException("no LoRA '" + name + "'");
            }
            return p;
        };
    }

    @AfterAll
    void cleanUp() throws IOException {
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private int[] draw(Path model, List<LoraWeight> set) {
        try (StableDiffusionPipeline p = CheckpointLoader.load(model, ComputeContext.cpu(), PipelineOptions.defaults(),
                set, loras)) {
            return pixels(p.generate(req, GenerationListener.NONE));
        }
    }

    private static int[] pixels(GenerationResult r) {
        BufferedImage img = PngEncoder.decode(r.images().get(0).png());
        return img.getRGB(0, 0, img.getWidth(), img.getHeight(), null, 0, img.getWidth());
    }

    /** Largest difference of one 8-bit channel. */
    private static int maxChannelDiff(int[] a, int[] b) {
        int max = 0;
        for (int i = 0; i < a.length; i++) {
            for (int s = 0; s < 24; s += 8) {
                max = Math.max(max, Math.abs(((a[i] >> s) & 0xFF) - ((b[i] >> s) & 0xFF)));
            }
        }
        return max;
    }

    @Test
    void kohyaAndPeftFilesDrawTheSameAndSingleFileMatchesTheFolder() {
        Path folder = Fixtures.model();
        int[] base = draw(folder, List.of());
        int[] kohya = draw(folder, List.of(new LoraWeight("kohya", 0.7)));
        int[] peft = draw(folder, List.of(new LoraWeight("peft", 0.7)));
        assertTrue(maxChannelDiff(base, kohya) > 1, "the LoRA changes the image");
        assertTrue(maxChannelDiff(kohya, peft) <= 1, "kohya vs PEFT: " + maxChannelDiff(kohya, peft));
        assertArrayEquals(kohya, draw(dir.resolve("tiny.safetensors"), List.of(new LoraWeight("kohya", 0.7))));
    }

    @Test
    void theBaseStaysBitwiseIntactAcrossLoraSets() {
        AtomicReference<String> resident = new AtomicReference<>();
        List<Long> swaps = new ArrayList<>();
        try (ModelSwitcher s = new ModelSwitcher(name -> Fixtures.model(), "default", loras, ComputeContext.cpu(),
                PipelineOptions.defaults(), resident, swaps::add)) {
            int[] before = pixels(s.generate(req, GenerationListener.NONE));
            int[] k = pixels(s.generate(req.withLoras(List.of(new LoraWeight("kohya", 0.7))), GenerationListener.NONE));
            int[] k2 = pixels(s.generate(req.withLoras(List.of(new LoraWeight("kohya", 0.35),
                    new LoraWeight("kohya", 0.35))), GenerationListener.NONE)); // the same set: no rebuild
            assertEquals(1, swaps.size());
            assertArrayEquals(k, k2);
            pixels(s.generate(req.withLoras(List.of(new LoraWeight("kohya", -1.0), new LoraWeight("peft", 2.0))),
                    GenerationListener.NONE));
            int[] after = pixels(s.generate(req, GenerationListener.NONE));
            assertEquals(3, swaps.size());
            assertArrayEquals(before, after);
            assertFalse(java.util.Arrays.equals(before, k));
            // a LoRA that cannot be read fails that job and leaves no model half-patched: the next base job is intact
            assertThrows(ModelLoadException.class, () -> s.generate(req.withLoras(List.of(
                    new LoraWeight("missing", 1.0))), GenerationListener.NONE));
            assertArrayEquals(before, pixels(s.generate(req, GenerationListener.NONE)));
        }
    }
}
