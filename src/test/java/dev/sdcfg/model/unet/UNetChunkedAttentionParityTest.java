package dev.sdcfg.model.unet;

import dev.sdcfg.runtime.AttentionBudget;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link UNetParityTest} (the same goldens, intermediates and limits) with the attention budget forced so small
 * that every attention call runs in chunks of a few queries (an uneven last chunk included): query chunking must
 * give the unchunked numbers.
 */
class UNetChunkedAttentionParityTest extends UNetParityTest {

    /** 200,000 bytes: chunks of a few query rows (uneven last chunks) for the tiny model's self- and cross-attention */
    static final long TINY_BUDGET = 200_000;

    private static AttentionBudget.Restore restore;
    private static long chunkedBefore;

    @BeforeAll
    static void forceTinyChunks() {
        chunkedBefore = AttentionBudget.chunkedCalls();
        restore = AttentionBudget.limit(TINY_BUDGET);
    }

    @AfterAll
    static void restoreBudget() {
        restore.close();
        assertTrue(AttentionBudget.chunkedCalls() > chunkedBefore, "the attention ran in query chunks");
    }
}
