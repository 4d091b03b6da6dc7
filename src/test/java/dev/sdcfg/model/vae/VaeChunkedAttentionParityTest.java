package dev.sdcfg.model.vae;

import dev.sdcfg.runtime.AttentionBudget;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link VaeParityTest} (the same goldens and limits) with the attention budget forced so small that the mid-block
 * attention runs in chunks of a few queries: query chunking must give the unchunked numbers.
 */
class VaeChunkedAttentionParityTest extends VaeParityTest {

    private static AttentionBudget.Restore restore;
    private static long chunkedBefore;

    @BeforeAll
    static void forceTinyChunks() {
        chunkedBefore = AttentionBudget.chunkedCalls();
        restore = AttentionBudget.limit(200_000);
    }

    @AfterAll
    static void restoreBudget() {
        restore.close();
        assertTrue(AttentionBudget.chunkedCalls() > chunkedBefore, "the attention ran in query chunks");
    }
}
