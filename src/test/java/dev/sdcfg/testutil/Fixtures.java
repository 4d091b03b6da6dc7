package dev.sdcfg.testutil;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * Where the parity goldens and the tiny model are. {@code -Dparity.fixtures=DIR} points the data-driven parity
 * suites at another folder of the same format (the fixtures README's layout: {@code DIR} holds the golden files,
 * and the model folder is {@code DIR/../tiny-sd} or {@code DIR/tiny-sd} when present).
 */
public final class Fixtures {

    private Fixtures() {
    }

    /** Folder of golden files (test resources {@code parity/} unless overridden). */
    public static Path golden() {
        String override = System.getProperty("parity.fixtures");
        if (override != null && !override.isBlank()) {
            Path p = Paths.get(override);
            if (Files.isDirectory(p.resolve("golden"))) {
                return p.resolve("golden");
            }
            return p;
        }
        return resource("parity");
    }

    /** The model folder the goldens were computed on. */
    public static Path model() {
        String override = System.getProperty("parity.fixtures");
        if (override != null && !override.isBlank()) {
            Path g = golden();
            for (Path c : new Path[] {g.resolve("tiny-sd"), g.resolveSibling("tiny-sd"), g.getParent().resolve("model")}) {
                if (c != null && Files.isDirectory(c)) {
                    return c;
                }
            }
            String m = System.getProperty("parity.model");
            if (m != null) {
                return Paths.get(m);
            }
            throw new IllegalStateException("no tiny-sd model folder next to " + g + " (set -Dparity.model=DIR)");
        }
        return resource("random-model");
    }

    public static Path resource(String name) {
        URL u = Fixtures.class.getClassLoader().getResource(name);
        if (u == null) {
            throw new IllegalStateException("test resource " + name + " not found");
        }
        try {
            return Paths.get(u.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Relative L2 error ‖ours − ref‖ / ‖ref‖, computed in float64. */
    public static double relL2(NDArray ours, NDArray ref) {
        if (!ours.getShape().equals(ref.getShape())) {
            throw new AssertionError("shape " + ours.getShape() + " != reference " + ref.getShape());
        }
        double[] a = ours.toType(DataType.FLOAT64, false).toDoubleArray();
        double[] b = ref.toType(DataType.FLOAT64, false).toDoubleArray();
        return relL2(a, b);
    }

    public static double relL2(double[] a, double[] b) {
        if (a.length != b.length) {
            throw new AssertionError("length " + a.length + " != reference " + b.length);
        }
        double num = 0;
        double den = 0;
        for (int i = 0; i < a.length; i++) {
            double d = a[i] - b[i];
            if (Double.isNaN(a[i])) {
                return Double.NaN;
            }
            num += d * d;
            den += b[i] * b[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }

    /** Largest absolute difference of two 8-bit images (same length) and how many values differ: {max, count}. */
    public static int[] u8Diff(byte[] ours, byte[] theirs) {
        int maxDiff = 0;
        int differing = 0;
        for (int i = 0; i < ours.length; i++) {
            int d = Math.abs((ours[i] & 0xFF) - (theirs[i] & 0xFF));
            maxDiff = Math.max(maxDiff, d);
            differing += d > 0 ? 1 : 0;
        }
        return new int[] {maxDiff, differing};
    }
}
