package dev.sdcfg.sampler;

import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.util.List;

/**
 * The official trace replay ({@link SamplerTraceParityTest}) over 169 further diffusers configurations (spacings,
 * sigma schedules, prediction types, solver orders and variants, stochastic options, KDPM2 and KDPM2 ancestral,
 * DEIS, DPM-Solver single-step); how they were made is in {@code tools/scheduler-goldens/README.md}.
 */
class SamplerVariantParityTest {

    @TestFactory
    List<DynamicTest> variantRuns() throws IOException {
        return SamplerTraceParityTest.runsIn(Fixtures.resource("parity-extra").resolve("schedulers"));
    }
}
