package dev.sdcfg.model.nn;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.runtime.AttentionBudget;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.runtime.ForwardScope;
import dev.sdcfg.runtime.OpCounter;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Regressions found while building the VAE on these ops. */
class OpsScopeAndAttentionTest {

    @Test
    void groupNormWorksAcrossSuccessiveScopes() {
        try (NDManager m = DjlRuntime.engine().newBaseManager()) {
            // a width no other test uses, so the identity affine is first created inside the scope below
            NDArray x = m.randomNormal(new Shape(1, 6, 7, 3)).toType(DataType.FLOAT64, false);
            NDArray w = m.ones(new Shape(6), DataType.FLOAT64);
            NDArray b = m.zeros(new Shape(6), DataType.FLOAT64);
            double[] first;
            try (NDScope s = new NDScope()) {
                first = Ops.groupNorm(x, 2, w, b, 1e-6).toDoubleArray();
            }
            double[] second;
            try (NDScope s = new NDScope()) {
                second = Ops.groupNorm(x, 2, w, b, 1e-6).toDoubleArray();
            }
            assertEquals(0.0, Fixtures.relL2(second, first), 0.0);
            // each group of 3 channels × 21 positions has mean 0 and (biased) variance ≈ 1
            double sum = 0;
            double sq = 0;
            for (int i = 0; i < 63; i++) {
                sum += first[i];
                sq += first[i] * first[i];
            }
            assertEquals(0.0, sum / 63, 1e-12);
            assertEquals(1.0, sq / 63, 1e-4);
        }
    }

    @Test
    void attentionAcceptsFourDimensionalHeads() {
        try (NDManager m = DjlRuntime.engine().newBaseManager()) {
            NDArray q = m.randomNormal(new Shape(2, 3, 5, 4)).toType(DataType.FLOAT64, false);
            NDArray k = m.randomNormal(new Shape(2, 3, 6, 4)).toType(DataType.FLOAT64, false);
            NDArray v = m.randomNormal(new Shape(2, 3, 6, 4)).toType(DataType.FLOAT64, false);
            NDArray four = Ops.attention(q, k, v, 0.5, false, 0);
            NDArray three = Ops.attention(q.reshape(6, 5, 4), k.reshape(6, 6, 4), v.reshape(6, 6, 4), 0.5, false, 0);
            assertEquals(new Shape(2, 3, 5, 4), four.getShape());
            assertEquals(0.0, Fixtures.relL2(four.reshape(6, 5, 4), three), 1e-15);
            // against the definition, row (0,0,0): softmax(q·kᵀ·0.5)·v
            double[] qa = q.toDoubleArray();
            double[] ka = k.toDoubleArray();
            double[] va = v.toDoubleArray();
            double[] p = new double[6];
            double z = 0;
            for (int j = 0; j < 6; j++) {
                double d = 0;
                for (int c = 0; c < 4; c++) {
                    d += qa[c] * ka[j * 4 + c];
                }
                p[j] = Math.exp(0.5 * d);
                z += p[j];
            }
            double[] got = four.toDoubleArray();
            for (int c = 0; c < 4; c++) {
                double want = 0;
                for (int j = 0; j < 6; j++) {
                    want += p[j] / z * va[j * 4 + c];
                }
                assertTrue(Math.abs(got[c] - want) < 1e-12, "channel " + c + ": " + got[c] + " vs " + want);
            }
        }
    }

    /** Ops issued by one attention call under the current budget, and its result (copied out). */
    private static double[] attend(NDArray q, NDArray k, NDArray v, int slice, long[] ops) {
        OpCounter.start();
        double[] out;
        try (ForwardScope scope = new ForwardScope()) {
            out = Ops.attention(q, k, v, 0.5, false, slice).toDoubleArray();
        }
        ops[0] = OpCounter.stop();
        return out;
    }

    @Test
    void queryChunksGiveTheUnchunkedNumbersAndAFittingCallIssuesNoExtraOp() {
        try (NDManager m = DjlRuntime.engine().newBaseManager()) {
            NDArray q = m.randomNormal(new Shape(2, 3, 37, 4)).toType(DataType.FLOAT64, false);
            NDArray k = m.randomNormal(new Shape(2, 3, 29, 4)).toType(DataType.FLOAT64, false);
            NDArray v = m.randomNormal(new Shape(2, 3, 29, 4)).toType(DataType.FLOAT64, false);
            long[] plainOps = new long[1];
            double[] plain = attend(q, k, v, 0, plainOps);
            // 6 rows × 29 keys × (scores + probabilities) × 8 bytes per query
            long perQuery = Ops.scoreBytesPerQuery(q.getShape(), 29, DataType.FLOAT64, false);
            assertEquals(6L * 29 * 2 * 8, perQuery);

            long[] fitOps = new long[1];
            double[] fit;
            try (AttentionBudget.Restore r = AttentionBudget.limit(perQuery * 37)) {
                fit = attend(q, k, v, 0, fitOps);
            }
            assertEquals(plainOps[0], fitOps[0], "a call that fits its budget issues the unchunked ops");
            assertEquals(0.0, Fixtures.relL2(fit, plain), 0.0);

            long before = AttentionBudget.chunkedCalls();
            long[] chunkOps = new long[1];
            double[] chunked;
            try (AttentionBudget.Restore r = AttentionBudget.limit(perQuery * 5)) { // 8 chunks, the last of 2
                chunked = attend(q, k, v, 0, chunkOps);
            }
            assertEquals(before + 1, AttentionBudget.chunkedCalls());
            assertTrue(chunkOps[0] > plainOps[0]);
            assertTrue(Fixtures.relL2(chunked, plain) < 1e-14, "chunked vs unchunked: " + Fixtures.relL2(chunked, plain));

            // with batch·heads slicing too (3-D rows), and a budget below one query row: chunks of one query
            double[] sliced;
            try (AttentionBudget.Restore r = AttentionBudget.limit(1)) {
                sliced = attend(q.reshape(6, 37, 4), k.reshape(6, 29, 4), v.reshape(6, 29, 4), 4, new long[1]);
            }
            assertTrue(Fixtures.relL2(sliced, plain) < 1e-14, "sliced and chunked: " + Fixtures.relL2(sliced, plain));
            assertEquals(AttentionBudget.UNLIMITED, AttentionBudget.scoreBytes(), "the budget is restored");
        }
    }
}
