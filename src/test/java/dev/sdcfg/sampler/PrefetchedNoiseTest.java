package dev.sdcfg.sampler;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.runtime.DjlRuntime;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Drawing noise ahead must hand every step exactly the draw it would have made itself. */
class PrefetchedNoiseTest {

    static NDManager manager;

    @BeforeAll
    static void start() {
        manager = DjlRuntime.engine().newBaseManager(Device.cpu());
    }

    @AfterAll
    static void stop() {
        manager.close();
    }

    static double[] run(Sampler s, NoiseSource noise) {
        return SamplerBehaviourTest.run(s, noise, manager);
    }

    /** One draw per step of an 8-step run, [1,2,2,2] float64: 64 bytes. */
    private static final long DRAW_BYTES = 8 * 8;

    @Test
    void stochasticSamplersGetIdenticalDrawsInOneBatchOrMany() {
        String[][] cases = {{"euler_ancestral", null}, {"ddpm", null}, {"dpmpp_2m_sde", null}, {"dpmpp_2m_sde_karras", null},
                {"ddim", "{\"eta\":1.0}"}, {"euler", "{\"s_churn\":1.0}"}, {"dpm2_ancestral", null}};
        for (String[] c : cases) {
            String name = c[0] + (c[1] == null ? "" : " " + c[1]);
            try (Sampler s = SamplerBehaviourTest.make(c[0], c[1])) {
                DjlRuntime.seed(42);
                double[] direct = run(s, NoiseSource.ENGINE_CPU);

                DjlRuntime.seed(42);
                double[] oneBatch;
                try (PrefetchedNoise noise = new PrefetchedNoise(s.timesteps().length, true)) {
                    oneBatch = run(s, noise);
                    assertTrue(noise.drawnAhead() <= s.timesteps().length, name + ": " + noise);
                }
                assertArrayEquals(direct, oneBatch, 0.0, name + ": one batch");

                // batches of 3 draws, and a first guess (2) below what the sampler needs
                DjlRuntime.seed(42);
                double[] small;
                try (PrefetchedNoise noise = new PrefetchedNoise(2, true, 3 * DRAW_BYTES)) {
                    small = run(s, noise);
                }
                assertArrayEquals(direct, small, 0.0, name + ": small batches");
            }
        }
    }

    @Test
    void drawsAheadOnlyWhenAsked() {
        try (PrefetchedNoise noise = new PrefetchedNoise(5, true)) {
            assertEquals(0, noise.drawnAhead());
            NDArray a = noise.randn(new Shape(2, 3), DataType.FLOAT32, manager);
            assertEquals(new Shape(2, 3), a.getShape());
            assertEquals(5, noise.drawnAhead());
        }
        // on the CPU without evenOnCpu nothing is drawn ahead: the draws are ENGINE_CPU's own
        try (PrefetchedNoise noise = new PrefetchedNoise(5)) {
            DjlRuntime.seed(9);
            float[] viaSource = noise.randn(new Shape(4), DataType.FLOAT32, manager).toFloatArray();
            assertEquals(0, noise.drawnAhead());
            DjlRuntime.seed(9);
            assertArrayEquals(NoiseSource.ENGINE_CPU.randn(new Shape(4), DataType.FLOAT32, manager).toFloatArray(), viaSource);
        }
    }

    @Test
    void halfPrecisionNoiseIsTheFloat32DrawRounded() {
        DjlRuntime.seed(11);
        float[] f32 = NoiseSource.ENGINE_CPU.randn(new Shape(64), DataType.FLOAT32, manager).toFloatArray();
        DjlRuntime.seed(11);
        NDArray direct = NoiseSource.ENGINE_CPU.randn(new Shape(64), DataType.FLOAT16, manager);
        DjlRuntime.seed(11);
        NDArray ahead;
        try (PrefetchedNoise noise = new PrefetchedNoise(3, true)) {
            ahead = noise.randn(new Shape(64), DataType.FLOAT16, manager).duplicate();
        }
        assertEquals(DataType.FLOAT16, direct.getDataType());
        float[] rounded = manager.create(f32).toType(DataType.FLOAT16, false).toType(DataType.FLOAT32, false).toFloatArray();
        assertArrayEquals(rounded, direct.toType(DataType.FLOAT32, false).toFloatArray(), 0f);
        assertArrayEquals(rounded, ahead.toType(DataType.FLOAT32, false).toFloatArray(), 0f);
    }

    @Test
    void aChangedShapeIsRefused() {
        try (PrefetchedNoise noise = new PrefetchedNoise(4, true)) {
            noise.randn(new Shape(1, 4), DataType.FLOAT32, manager);
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> noise.randn(new Shape(1, 5), DataType.FLOAT32, manager));
            assertTrue(e.getMessage().contains("(1, 5)"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> noise.randn(new Shape(1, 4), DataType.FLOAT64, manager));
        }
        assertThrows(IllegalArgumentException.class, () -> new PrefetchedNoise(0));
    }
}
