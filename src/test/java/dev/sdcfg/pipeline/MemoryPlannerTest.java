package dev.sdcfg.pipeline;

import dev.sdcfg.pipeline.image.PngEncoder;
import dev.sdcfg.runtime.AttentionBudget;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MemoryPlannerTest {

    private static final long MIB = 1L << 20;

    /** 8 heads of self-attention at full latent resolution, 1 KiB of activations per latent cell and item. */
    private static MemoryPlanner synthetic() {
        return new MemoryPlanner(new MemoryPlanner.Footprint(100 * MIB, 0, 1024, 0, 2048,
                List.of(new MemoryPlanner.Site(1, 8, 0, 4, false), new MemoryPlanner.Site(1, 8, 77, 4, false)),
                new MemoryPlanner.Site(1, 1, 0, 4, false), 8, 0));
    }

    @Test
    void plansPlainChunkedSplitOrRefusesByArithmetic() {
        MemoryPlanner p = synthetic();
        // 64×64 latent = 4096 cells: pair scores 2·8·4096²·2·4 B = 2 GiB, activations 1.25·2·4 MiB = 10 MiB
        MemoryPlan plain = p.plan(512, 512, true, 4096 * MIB);
        assertTrue(plain.fits());
        assertFalse(plain.reduced(), plain.describe());
        assertEquals("plain", plain.kind());
        assertEquals(10 * MIB + 2048 * MIB, plain.estimateBytes());

        MemoryPlan chunked = p.plan(512, 512, true, 512 * MIB);
        assertTrue(chunked.fits());
        assertEquals("chunked", chunked.kind());
        assertEquals(512 * MIB - 10 * MIB, chunked.attentionBytes(), "what the activations leave for scores");
        assertTrue(chunked.estimateBytes() <= 512 * MIB);

        // one query row of the pair: 2·8·4096·2·4 B = 512 KiB, 16 rows = 8 MiB; activations 10 MiB (pair), 5 (one)
        MemoryPlan split = p.plan(512, 512, true, 16 * MIB);
        assertTrue(split.fits(), split.needs());
        assertTrue(split.splitGuidance());
        assertEquals("split", split.kind());

        MemoryPlan refused = p.plan(512, 512, true, 8 * MIB);
        assertFalse(refused.fits());
        assertEquals("needs about 11 MiB, budget 8 MiB", refused.needs()); // the VAE: 10 MiB + 16 query rows
    }

    @Test
    void theDemoModelIsMeasuredAndPlannedAndATooSmallBudgetIsRefusedAtValidation() {
        GenerationRequest big = new GenerationRequest("x", "", 1024, 1024, 1, null, null, null, 0, 4);
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(Fixtures.model(), ComputeContext.cpu(),
                new PipelineOptions(null, 0, 0, 1024L * 1024L, "2G"))) {
            assertNull(pipe.memoryPlan(big), "no plan before the model was measured");
            pipe.calibrateMemory();
            MemoryPlanner.Footprint fp = pipe.memoryPlanner().footprint();
            System.out.println("[memory] demo footprint " + fp);
            assertTrue(fp.unetPerCell() > 0 && fp.vaePerCell() > 0, fp.toString());
            assertEquals(2L << 30, pipe.memoryBudget());
            MemoryPlan plan = pipe.memoryPlan(big);
            System.out.println("[memory] 1024x1024 under 2 GiB: " + plan.describe());
            assertTrue(plan.fits(), plan.needs());
            assertTrue(plan.attentionChunked(), "16384 queries × 8 heads cannot be scored at once in 2 GiB");
            pipe.validate(big);
            MemoryPlan small = pipe.memoryPlan(new GenerationRequest("x", "", 64, 64, 1, null, null, null, 0, 1));
            assertEquals("plain", small.kind(), small.describe());
        }
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(Fixtures.model(), ComputeContext.cpu(),
                new PipelineOptions(null, 0, 0, 1024L * 1024L, "16M"))) {
            pipe.calibrateMemory();
            InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> pipe.validate(big));
            assertEquals("width", e.field());
            assertTrue(e.getMessage().matches("needs about \\S+ [GM]iB, budget 16 MiB; use a smaller size.*"),
                    e.getMessage());
        }
    }

    /** Generates one image of {@code r} under {@code budget} bytes; returns it and the plan it ran under. */
    private static BufferedImage generate(GenerationRequest r, long budget, MemoryPlan[] seen, List<String> warnings) {
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(Fixtures.model(), ComputeContext.cpu(),
                new PipelineOptions(null, 0, 0, 1024L * 1024L, Long.toString(budget)))) {
            GenerationResult res = pipe.generate(r, new GenerationListener() {
                @Override
                public void onMemoryPlan(MemoryPlan plan) {
                    seen[0] = plan;
                }
            });
            warnings.addAll(res.warnings());
            return PngEncoder.decode(res.images().get(0).png());
        }
    }

    @Test
    void theGuidancePairSplitGivesTheSameImage() {
        // 512 px on the demo model: its VAE needs tiles under both budgets below (the same tiles in both runs), the
        // UNet pair (about 470 MiB of activations) fits the first budget but not the second
        GenerationRequest r = new GenerationRequest("a fox", "", 512, 512, 2, "euler", null,
                dev.sdcfg.guidance.GuidanceSpec.parse("7.5"), 42, 1);
        long chunkedBefore = AttentionBudget.chunkedCalls();
        MemoryPlan[] pairPlan = new MemoryPlan[1];
        List<String> pairWarnings = new java.util.ArrayList<>();
        BufferedImage pair = generate(r, 640 * MIB, pairPlan, pairWarnings);
        assertFalse(pairPlan[0].splitGuidance(), pairPlan[0].describe());
        assertTrue(pairPlan[0].vaeTile() > 0 && pairPlan[0].attentionChunked(), pairPlan[0].describe());
        assertTrue(pairWarnings.get(0).startsWith("memory plan"), pairWarnings.toString());
        MemoryPlan[] splitPlan = new MemoryPlan[1];
        BufferedImage split = generate(r, 320 * MIB, splitPlan, new java.util.ArrayList<>());
        assertTrue(splitPlan[0].splitGuidance() && splitPlan[0].vaeTile() == pairPlan[0].vaeTile(),
                splitPlan[0].describe());
        assertTrue(AttentionBudget.chunkedCalls() > chunkedBefore);
        assertEquals(AttentionBudget.UNLIMITED, AttentionBudget.scoreBytes(), "the job's limit is lifted after it");
        int worst = 0;
        for (int y = 0; y < 512; y++) {
            for (int x = 0; x < 512; x++) {
                int a = pair.getRGB(x, y);
                int b = split.getRGB(x, y);
                for (int s = 0; s < 24; s += 8) {
                    worst = Math.max(worst, Math.abs(((a >> s) & 255) - ((b >> s) & 255)));
                }
            }
        }
        assertTrue(worst <= 1, "8-bit images within one level, worst " + worst);
    }
}
