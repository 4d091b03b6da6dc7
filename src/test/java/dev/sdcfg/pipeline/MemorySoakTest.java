package dev.sdcfg.pipeline;

import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.MemoryBudget;
import dev.sdcfg.runtime.PeakRss;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The largest request the API allows (1024×1024, n = 4 → here n = 1, one step: images run one after another, so n
 * does not change the peak) on the demo model, under a 3 GiB working-memory budget: the process's resident set
 * (VmRSS, sampled every 20 ms) must grow by no more than the budget, and a second job afterwards must run. Without
 * the memory plan this request needed over 20 GiB (issue 13).
 */
class MemorySoakTest {

    private static final long BUDGET = 3L << 30;

    @Test
    void theLargestRequestStaysWithinItsBudget() throws Exception {
        long before = MemoryBudget.residentSetBytes();
        if (before < 0) {
            return; // no /proc: not Linux
        }
        GenerationRequest largest = new GenerationRequest("x", "", 1024, 1024, 1, "euler", null, null, 7, 1);
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(Fixtures.model(), ComputeContext.cpu(),
                new PipelineOptions(null, 0, 0, 1024L * 1024L, Long.toString(BUDGET)))) {
            pipe.calibrateMemory();
            MemoryPlan plan = pipe.memoryPlan(largest);
            GenerationResult res;
            PeakRss rss = new PeakRss(20);
            try {
                res = pipe.generate(largest, GenerationListener.NONE);
            } finally {
                rss.close();
            }
            long base = rss.baseBytes();
            long peak = rss.peakBytes();
            long grown = peak - base;
            System.out.printf("[memory soak] 1024x1024: RSS %s before, peak %s (+%s); plan %s%n",
                    MemoryBudget.format(base), MemoryBudget.format(peak), MemoryBudget.format(grown),
                    plan.describe());
            assertEquals(1, res.images().size());
            assertTrue(grown <= BUDGET, "RSS grew by " + MemoryBudget.format(grown) + ", budget "
                    + MemoryBudget.format(BUDGET));
            assertTrue(plan.estimateBytes() <= BUDGET);
            GenerationResult next = pipe.generate(new GenerationRequest("y", "", 64, 64, 1, null, null, null, 1, 1),
                    GenerationListener.NONE);
            assertEquals(1, next.images().size(), "the next job runs");
        }
    }

    /**
     * An allocation that fails inside a job (a real one: the CPU allocator refuses 8 TiB) ends that job with the
     * engine's out-of-memory error, which the job service reports as {@code out_of_memory}; the job's arrays are
     * released, the attention limit is lifted, and the next job runs.
     */
    @Test
    void anAllocationFailureFailsTheJobReleasesItsMemoryAndTheNextJobRuns() {
        GenerationRequest r = new GenerationRequest("x", "", 64, 64, 3, null, null, null, 3, 2);
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(Fixtures.model(), ComputeContext.cpu(),
                new PipelineOptions(null, 0, 0, 1024L * 1024L, "1G"))) {
            pipe.generate(new GenerationRequest("", "", 64, 64, 1, null, null, null, 0, 1), GenerationListener.NONE);
            long held = pipe.heldBytes();
            ai.djl.engine.EngineException e = org.junit.jupiter.api.Assertions.assertThrows(
                    ai.djl.engine.EngineException.class, () -> pipe.generate(r, new GenerationListener() {
                        @Override
                        public void onUnetForward(long nanos) {
                            try (ai.djl.ndarray.NDManager m = ai.djl.ndarray.NDManager.newBaseManager()) {
                                m.zeros(new ai.djl.ndarray.types.Shape(1L << 41), ai.djl.ndarray.types.DataType.FLOAT32);
                            }
                        }
                    }));
            assertTrue(dev.sdcfg.runtime.OutOfMemory.is(e), "the job service reports it as out_of_memory: " + e);
            assertEquals(held, pipe.heldBytes(), "the failed job's arrays are released");
            assertEquals(dev.sdcfg.runtime.AttentionBudget.UNLIMITED, dev.sdcfg.runtime.AttentionBudget.scoreBytes());
            assertEquals(2, pipe.generate(r, GenerationListener.NONE).images().size(), "the next job runs");
        }
    }
}
