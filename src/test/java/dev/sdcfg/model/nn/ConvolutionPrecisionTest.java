package dev.sdcfg.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.runtime.CpuKernelsAccess;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * fp32 convolutions through the project's own {@link Ops#conv2d} against float64, over the channel counts, sizes,
 * strides and kernels a UNet or VAE can have. oneDNN 3.7.1's AVX-512 fp32 convolution returned 12–18 % errors (and
 * NaN) for 20/24 input channels on an AMD EPYC, which this sweep covers (see CpuKernels); it must pass with the
 * kernels the engine runs with on any CPU, and with ATen's native path that the start-up self-check falls back to.
 */
class ConvolutionPrecisionTest {

    /** The project's fp32 limit (relative L2), as in every parity test. */
    private static final double FP32_LIMIT = 1e-4;

    /** kernel, stride, height, width: odd and even sizes, strides 1 and 2, kernels 1 and 3 (small, for the full grid). */
    private static final int[][] GEOMETRIES = {
        {3, 1, 8, 24}, {3, 1, 7, 23}, {3, 2, 8, 24}, {3, 2, 9, 17},
        {1, 1, 8, 24}, {1, 1, 7, 23}, {1, 2, 8, 24}, {1, 2, 7, 15},
    };

    /** The geometries of the reported failures (input [1,C,24,72], 3×3 pad 1) and their stride-2 and 1×1 neighbours. */
    private static final int[][] REPORTED = {{3, 1, 24, 72}, {3, 2, 24, 72}, {1, 1, 24, 72}, {3, 1, 23, 71}};

    @Test
    void fp32ConvolutionsMatchFloat64ForEveryChannelCount() {
        List<String> failures = sweep();
        assertTrue(failures.isEmpty(), failures.size() + " fp32 convolutions off by more than " + FP32_LIMIT
                + " (relative L2) against fp64: " + failures.subList(0, Math.min(20, failures.size())));
    }

    @Test
    void atenNativeConvolutionThatTheSelfCheckFallsBackToIsExactToo() {
        DjlRuntime.engine();
        assertTrue(CpuKernelsAccess.useOneDnnConvolution(false), "oneDNN could not be switched off");
        try {
            List<String> failures = sweep();
            assertTrue(failures.isEmpty(), failures.toString());
        } finally {
            assertTrue(CpuKernelsAccess.useOneDnnConvolution(CpuKernelsAccess.state().onednnConvolution()));
        }
    }

    /** Channel counts on the other axis: odd, even, around the 8/16 blocks of the kernels, and SD's 4 and 3. */
    private static final int[] CROSS = {1, 3, 4, 7, 8, 12, 15, 16, 17, 20, 24, 31, 32, 33, 40, 48, 63, 64};

    /**
     * Every input count 1..64 against {@link #CROSS} outputs and every output count 1..64 against {@link #CROSS}
     * inputs, one small geometry per pair (rotating through all eight; each new shape costs oneDNN a JIT compile, so
     * the full 64 × 64 grid is left out), and the full-size geometries of the reported failures for every input
     * count with 16 and 32 outputs.
     */
    private static List<String> sweep() {
        List<String> failures = new ArrayList<>();
        Random r = new Random(7);
        try (NDManager m = DjlRuntime.engine().newBaseManager()) {
            for (int c = 1; c <= 64; c++) {
                for (int other : CROSS) {
                    check(m, r, c, other, GEOMETRIES[(c * 3 + other) % GEOMETRIES.length], failures);
                    if (other != c) {
                        check(m, r, other, c, GEOMETRIES[(c + other * 5) % GEOMETRIES.length], failures);
                    }
                }
                for (int out : new int[] {16, 32}) {
                    for (int[] geo : REPORTED) {
                        if (geo == REPORTED[0] || c % 4 == 0) {
                            check(m, r, c, out, geo, failures);
                        }
                    }
                }
            }
        }
        return failures;
    }

    private static void check(NDManager parent, Random r, int in, int out, int[] geo, List<String> failures) {
        int k = geo[0];
        int stride = geo[1];
        try (NDManager m = parent.newSubManager()) {
            NDArray x = m.create(gaussian(r, in * geo[2] * geo[3]), new Shape(1, in, geo[2], geo[3]));
            NDArray w = m.create(gaussian(r, out * in * k * k), new Shape(out, in, k, k));
            NDArray b = m.create(gaussian(r, out), new Shape(out));
            NDArray ref = Ops.conv2d(x, w, b, stride, k / 2);
            NDArray f32 = Ops.conv2d(x.toType(DataType.FLOAT32, false), w.toType(DataType.FLOAT32, false),
                    b.toType(DataType.FLOAT32, false), stride, k / 2);
            double err = Fixtures.relL2(f32.toType(DataType.FLOAT64, false), ref);
            if (!(err <= FP32_LIMIT)) {
                failures.add(String.format(Locale.ROOT, "[1,%d,%d,%d]x[%d,%d,%d,%d] stride %d: %.3g",
                        in, geo[2], geo[3], out, in, k, k, stride, err));
            }
        }
    }

    private static double[] gaussian(Random r, int n) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = r.nextGaussian();
        }
        return v;
    }
}
