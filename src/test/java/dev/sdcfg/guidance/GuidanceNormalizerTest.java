package dev.sdcfg.guidance;

import ai.djl.Device;
import ai.djl.ndarray.BaseNDManager;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every normalizer on hand-made tensors: its defining property, batching, scheduling, interval, zero-init. */
class GuidanceNormalizerTest {

    private static final Shape SHAPE = new Shape(2, 4, 8, 8);
    private NDManager m;

    @BeforeEach
    void open() {
        m = DjlRuntime.engine().newBaseManager(Device.cpu());
    }

    @AfterEach
    void close() {
        m.close();
    }

    /** A deterministic [2,4,8,8] tensor; image 1 has a different scale and pattern from image 0. */
    private NDArray tensor(double phase, double scale1, DataType dtype) {
        int n = (int) SHAPE.size();
        double[] v = new double[n];
        for (int k = 0; k < n; k++) {
            double s = k < n / 2 ? 1.0 : scale1;
            v[k] = s * (Math.sin(0.37 * k + phase) + 0.3 * Math.cos(1.3 * k * phase + 0.2) + 0.05 * phase);
        }
        return m.create(v, SHAPE).toType(dtype, false);
    }

    private NDArray u() {
        return tensor(0.5, 3.0, DataType.FLOAT64);
    }

    private NDArray t() {
        return tensor(0.9, 2.5, DataType.FLOAT64);
    }

    private static GuidancePlan plan(String json, int steps) {
        return GuidanceSpec.parse(json).plan(steps);
    }

    private static double[] perImageNorm(NDArray x) {
        double[] v = x.toType(DataType.FLOAT64, false).toDoubleArray();
        int per = v.length / 2;
        double[] out = new double[2];
        for (int k = 0; k < v.length; k++) {
            out[k / per] += v[k] * v[k];
        }
        out[0] = Math.sqrt(out[0]);
        out[1] = Math.sqrt(out[1]);
        return out;
    }

    private static double[] perImageStd(NDArray x) {
        double[] v = x.toDoubleArray();
        int per = v.length / 2;
        double[] out = new double[2];
        for (int b = 0; b < 2; b++) {
            double mean = 0;
            for (int k = 0; k < per; k++) {
                mean += v[b * per + k];
            }
            mean /= per;
            double ss = 0;
            for (int k = 0; k < per; k++) {
                double d = v[b * per + k] - mean;
                ss += d * d;
            }
            out[b] = Math.sqrt(ss / (per - 1));
        }
        return out;
    }

    private static double[] perImageDot(NDArray a, NDArray b) {
        double[] x = a.toDoubleArray();
        double[] y = b.toDoubleArray();
        int per = x.length / 2;
        double[] out = new double[2];
        for (int k = 0; k < x.length; k++) {
            out[k / per] += x[k] * y[k];
        }
        return out;
    }

    private static void assertClose(NDArray expected, NDArray actual, double tol) {
        double err = Fixtures.relL2(actual, expected);
        assertTrue(err <= tol, "relL2 " + err + " > " + tol);
    }

    @Test
    void cfgMixesLinearly() {
        NDArray u = u();
        NDArray t = t();
        try (GuidancePlan p = plan("{\"normalizer\":\"none\",\"g\":7.5}", 1);
             GuidancePlan p0 = plan("0", 1);
             GuidancePlan p1 = plan("1", 1)) {
            assertClose(u.add(t.sub(u).mul(7.5)), p.guide(0, u, t), 1e-15);
            assertClose(u, p0.guide(0, u, t), 0);
            assertClose(t, p1.guide(0, u, t), 1e-15);
        }
    }

    @Test
    void baseNormAndFullNormKeepTheNormOfUPerImage() {
        NDArray u = u();
        NDArray t = t();
        double[] nu = perImageNorm(u);
        assertTrue(Math.abs(nu[0] - nu[1]) > 1, "the two images must differ in norm for this test to mean anything");
        for (String n : new String[] {"basenorm", "fullnorm"}) {
            for (double g : new double[] {0.15, 1, 7.5}) {
                try (GuidancePlan p = plan("{\"normalizer\":\"" + n + "\",\"g\":" + g + "}", 1)) {
                    double[] no = perImageNorm(p.guide(0, u, t));
                    for (int b = 0; b < 2; b++) {
                        assertEquals(nu[b], no[b], 1e-12 * nu[b], n + " g=" + g + " image " + b);
                    }
                }
            }
        }
        // basenorm is the CFG prediction rescaled: same direction
        try (GuidancePlan cfg = plan("7.5", 1); GuidancePlan base = plan("{\"normalizer\":\"basenorm\",\"g\":7.5}", 1)) {
            NDArray c = cfg.guide(0, u, t);
            NDArray b = base.guide(0, u, t);
            double[] cos = perImageDot(c, b);
            double[] nc = perImageNorm(c);
            double[] nb = perImageNorm(b);
            for (int i = 0; i < 2; i++) {
                assertEquals(1.0, cos[i] / (nc[i] * nb[i]), 1e-12);
            }
        }
    }

    @Test
    void tNormUpdateIsGTimesTheNormOfU() {
        NDArray u = u();
        NDArray t = t();
        double[] nu = perImageNorm(u);
        try (GuidancePlan p = plan("{\"normalizer\":\"tnorm\",\"g\":0.15}", 1)) {
            double[] nd = perImageNorm(p.guide(0, u, t).sub(u));
            for (int b = 0; b < 2; b++) {
                assertEquals(0.15 * nu[b], nd[b], 1e-12 * nu[b]);
            }
        }
    }

    @Test
    void rescaleMatchesTheStdOfTAtPhiOne() {
        NDArray u = u();
        NDArray t = t();
        double[] st = perImageStd(t);
        try (GuidancePlan p1 = plan("{\"normalizer\":\"rescale\",\"g\":7.5,\"phi\":1}", 1);
             GuidancePlan p0 = plan("{\"normalizer\":\"rescale\",\"g\":7.5,\"phi\":0}", 1);
             GuidancePlan cfg = plan("7.5", 1)) {
            double[] so = perImageStd(p1.guide(0, u, t));
            for (int b = 0; b < 2; b++) {
                assertEquals(st[b], so[b], 1e-12 * st[b]);
            }
            assertClose(cfg.guide(0, u, t), p0.guide(0, u, t), 0);
        }
    }

    @Test
    void apgIdentities() {
        NDArray u = u();
        NDArray t = t();
        // η = 1, no threshold, no momentum: U = D exactly in exact arithmetic → plain CFG
        try (GuidancePlan apg = plan("{\"normalizer\":\"apg\",\"g\":5,\"eta\":1,\"norm_threshold\":0}", 1);
             GuidancePlan cfg = plan("5", 1)) {
            assertClose(cfg.guide(0, u, t), apg.guide(0, u, t), 1e-14);
        }
        // η = 0: the update is orthogonal to t per image
        try (GuidancePlan apg = plan("{\"normalizer\":\"apg\",\"g\":5,\"eta\":0,\"norm_threshold\":0}", 1)) {
            NDArray upd = apg.guide(0, u, t).sub(u);
            double[] dot = perImageDot(upd, t);
            double[] nuu = perImageNorm(upd);
            double[] nt = perImageNorm(t);
            for (int b = 0; b < 2; b++) {
                assertEquals(0, dot[b] / (nuu[b] * nt[b]), 1e-12);
            }
        }
        // a threshold clips the update's norm: ‖out − u‖ = g·thr when ‖t − u‖ > thr (η = 1 keeps the norm)
        try (GuidancePlan apg = plan("{\"normalizer\":\"apg\",\"g\":2,\"eta\":1,\"norm_threshold\":0.5}", 1)) {
            double[] nd = perImageNorm(t.sub(u));
            assertTrue(nd[0] > 0.5 && nd[1] > 0.5);
            double[] no = perImageNorm(apg.guide(0, u, t).sub(u));
            assertEquals(1.0, no[0], 1e-12);
            assertEquals(1.0, no[1], 1e-12);
        }
    }

    @Test
    void apgMomentumRunsAcrossStepsOfOneJob() {
        NDArray u = u();
        NDArray[] ts = {t(), tensor(1.7, 0.8, DataType.FLOAT64), tensor(2.3, 1.9, DataType.FLOAT64)};
        String json = "{\"normalizer\":\"apg\",\"g\":3,\"eta\":1,\"norm_threshold\":0,\"momentum\":-0.5}";
        try (GuidancePlan p = plan(json, 3)) {
            NDArray running = null;
            for (int i = 0; i < 3; i++) {
                NDArray d = ts[i].sub(u);
                running = running == null ? d : d.add(running.mul(-0.5));
                // η = 1 and no threshold: the update is the running average itself
                assertClose(u.add(running.mul(3)), p.guide(i, u, ts[i]), 1e-14);
            }
        }
        // a second job starts from an empty buffer
        try (GuidancePlan p = plan(json, 3)) {
            assertClose(u.add(ts[2].sub(u).mul(3)), p.guide(0, u, ts[2]), 1e-14);
        }
    }

    @Test
    void cfgZeroStarAlphaPerImage() {
        NDArray u = u();
        // t = α·u per image with α = 1.7 and 0.4: the optimal scale recovers it, so the prediction is t for any g
        NDArray t = concat(u.get("0:1").mul(1.7), u.get("1:2").mul(0.4));
        try (GuidancePlan p = plan("{\"normalizer\":\"cfg-zero-star\",\"g\":6}", 1)) {
            assertClose(t, p.guide(0, u, t), 1e-6); // α is computed in float32, as diffusers does
        }
        NDArray eps = m.create(1e-8f);
        double[] a = Transforms.alpha(t, u, new int[] {1, 2, 3}, eps).toDoubleArray();
        assertEquals(1.7, a[0], 1e-6);
        assertEquals(0.4, a[1], 1e-6);
    }

    @Test
    void cfgZeroStarZeroInitSteps() {
        NDArray u = u();
        NDArray t = t();
        try (GuidancePlan p = plan("{\"normalizer\":\"cfg-zero-star\",\"g\":6,\"zero_init_steps\":2}", 5)) {
            for (int i = 0; i < 2; i++) {
                assertTrue(p.isZeroInit(i));
                assertFalse(p.needsUnconditional(i));
                NDArray z = p.guide(i, null, t);
                assertEquals(t.getShape(), z.getShape());
                assertEquals(0.0, z.abs().max().getDouble());
            }
            assertTrue(p.needsUnconditional(2));
            assertTrue(p.guide(2, u, t).abs().max().getDouble() > 0);
        }
    }

    @Test
    void intervalOffStepsSkipTheUnconditionalPass() {
        NDArray u = u();
        NDArray t = t();
        try (GuidancePlan p = plan("{\"normalizer\":\"fullnorm\",\"g\":0.15,\"interval\":{\"start\":0.2,\"end\":0.6}}", 10)) {
            List<Integer> guided = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                if (p.needsUnconditional(i)) {
                    guided.add(i);
                    assertTrue(p.isGuided(i));
                    assertTrue(Fixtures.relL2(p.guide(i, u, t), t) > 1e-3);
                } else {
                    assertFalse(p.isGuided(i));
                    assertSame(t, p.guide(i, null, t), "off steps return t alone");
                }
            }
            assertEquals(List.of(2, 3, 4, 5), guided);
            assertThrows(IllegalArgumentException.class, () -> p.guide(3, null, t));
        }
    }

    @Test
    void anyParameterFollowsItsSchedule() {
        NDArray u = u();
        NDArray t = t();
        try (GuidancePlan p = plan("{\"g\":{\"schedule\":\"linear\",\"from\":1,\"to\":4}}", 4)) {
            for (int i = 0; i < 4; i++) {
                assertEquals(1.0 + i, p.value("g", i), 1e-15);
                assertClose(u.add(t.sub(u).mul(1.0 + i)), p.guide(i, u, t), 1e-15);
            }
        }
        try (GuidancePlan p = plan("{\"normalizer\":\"rescale\",\"g\":7.5,\"phi\":{\"schedule\":\"array\",\"values\":[0,1,0.5]}}", 3);
             GuidancePlan cfg = plan("7.5", 1);
             GuidancePlan full = plan("{\"normalizer\":\"rescale\",\"g\":7.5,\"phi\":1}", 1);
             GuidancePlan half = plan("{\"normalizer\":\"rescale\",\"g\":7.5,\"phi\":0.5}", 1)) {
            assertClose(cfg.guide(0, u, t), p.guide(0, u, t), 0);
            assertClose(full.guide(0, u, t), p.guide(1, u, t), 1e-15);
            assertClose(half.guide(0, u, t), p.guide(2, u, t), 1e-15);
        }
        try (GuidancePlan p = plan("{\"normalizer\":\"apg\",\"eta\":{\"schedule\":\"step\",\"before\":1,\"after\":0,\"at\":0.5}}", 4)) {
            assertEquals(List.of(1.0, 1.0, 0.0, 0.0), java.util.Arrays.stream(p.values("eta")).boxed().toList());
            assertEquals(15.0, p.value("norm_threshold", 3));
            assertThrows(IllegalArgumentException.class, () -> p.value("phi", 0));
        }
    }

    @Test
    void batchingNeverChangesAResult() {
        String[] specs = {
            "7.5",
            "{\"normalizer\":\"basenorm\",\"g\":7.5}",
            "{\"normalizer\":\"tnorm\",\"g\":0.15}",
            "{\"normalizer\":\"fullnorm\",\"g\":{\"schedule\":\"cosine\",\"max\":0.25,\"min\":0.05}}",
            "{\"normalizer\":\"rescale\",\"g\":7.5,\"phi\":0.7}",
            "{\"normalizer\":\"apg\",\"g\":7.5,\"eta\":0.3,\"norm_threshold\":2,\"momentum\":-0.5}",
            "{\"normalizer\":\"cfg-zero-star\",\"g\":5}",
        };
        NDArray u = u();
        NDArray[] ts = {t(), tensor(1.7, 0.8, DataType.FLOAT64), tensor(2.3, 1.9, DataType.FLOAT64)};
        for (String json : specs) {
            try (GuidancePlan both = plan(json, 3); GuidancePlan first = plan(json, 3); GuidancePlan second = plan(json, 3)) {
                for (int i = 0; i < 3; i++) {
                    NDArray batched = both.guide(i, u, ts[i]);
                    NDArray a = first.guide(i, u.get("0:1"), ts[i].get("0:1"));
                    NDArray b = second.guide(i, u.get("1:2"), ts[i].get("1:2"));
                    assertClose(concat(a, b), batched, 1e-14);
                    assertTrue(Fixtures.relL2(a, b) > 0.1, "the two images differ");
                }
            }
        }
    }

    @Test
    void float32StaysFloat32AndAgreesWithFloat64() {
        NDArray u = u();
        NDArray t = t();
        for (Normalizer n : Normalizer.values()) {
            String json = "{\"normalizer\":\"" + n.id() + "\"}";
            try (GuidancePlan p64 = plan(json, 2); GuidancePlan p32 = plan(json, 2)) {
                NDArray r64 = p64.guide(1, u, t);
                NDArray r32 = p32.guide(1, u.toType(DataType.FLOAT32, false), t.toType(DataType.FLOAT32, false));
                assertEquals(DataType.FLOAT32, r32.getDataType(), n.id());
                assertClose(r64, r32, 1e-6);
            }
        }
    }

    @Test
    void intermediatesAreFreedAndTheResultBelongsToTheCallersScope() {
        NDArray u = u();
        NDArray t = t();
        for (Normalizer n : Normalizer.values()) {
            String json = "{\"normalizer\":\"" + n.id() + "\",\"g\":{\"schedule\":\"linear\",\"from\":2,\"to\":1}"
                    + (n == Normalizer.APG ? ",\"momentum\":-0.5" : "") + "}";
            try (GuidancePlan p = plan(json, 4)) {
                for (int i = 0; i < 4; i++) {
                    int before = ((BaseNDManager) m).getManagedArrays().size();
                    NDArray out;
                    try (NDScope scope = new NDScope()) {
                        scope.suppressNotUsedWarning();
                        out = p.guide(i, u, t);
                        assertEquals(before + 1, ((BaseNDManager) m).getManagedArrays().size(),
                                n.id() + ": one new array (the result) in the caller's manager at step " + i);
                    }
                    assertEquals(before, ((BaseNDManager) m).getManagedArrays().size(),
                            n.id() + ": the caller's scope closed the result");
                    assertThrows(IllegalStateException.class, out::toDoubleArray);
                }
            }
        }
    }

    /** Concatenation along the batch axis. */
    private static NDArray concat(NDArray a, NDArray b) {
        return NDArrays.concat(new NDList(a, b));
    }
}
