package dev.sdcfg.pipeline;

import dev.sdcfg.runtime.MemoryBudget;

/**
 * How a job runs within its memory budget, chosen by {@link MemoryPlanner} before it is queued.
 *
 * @param fits             whether the job fits the budget at all (false: it is refused at submission)
 * @param estimateBytes    estimated peak working memory of the chosen plan (or, when it does not fit, of the
 *                         leanest plan there is), beyond the resident weights
 * @param budgetBytes      the budget it was planned against
 * @param attentionBytes   the limit on one attention call's scores + probabilities ({@code AttentionBudget})
 * @param attentionChunked whether some attention call runs in query chunks under that limit
 * @param splitGuidance    whether the classifier-free guidance pair runs as two batch-1 UNet calls
 * @param vaeTile          0 for a whole-image VAE decode, else the side in latent cells of the overlapping tiles
 *                         the decoder runs on
 */
public record MemoryPlan(boolean fits, long estimateBytes, long budgetBytes, long attentionBytes,
                         boolean attentionChunked, boolean splitGuidance, int vaeTile) {

    /** Anything but the plain path (no chunks, the CFG pair in one call, whole-image decode). */
    public boolean reduced() {
        return attentionChunked || splitGuidance || vaeTile > 0;
    }

    /** A short name for metrics: plain, chunked, split, tiled (the strongest measure taken). */
    public String kind() {
        if (vaeTile > 0) {
            return "tiled";
        }
        if (splitGuidance) {
            return "split";
        }
        return attentionChunked ? "chunked" : "plain";
    }

    /** "needs about 31.5 GiB, budget 9.0 GiB". */
    public String needs() {
        return "needs about " + MemoryBudget.format(estimateBytes) + ", budget " + MemoryBudget.format(budgetBytes);
    }

    /** The job's warning when the plan is not the plain one. */
    public String describe() {
        StringBuilder b = new StringBuilder("memory plan (estimated peak ").append(MemoryBudget.format(estimateBytes))
                .append(" of a ").append(MemoryBudget.format(budgetBytes)).append(" budget):");
        if (attentionChunked) {
            b.append(" attention in query chunks of at most ").append(MemoryBudget.format(attentionBytes))
                    .append(" of scores;");
        }
        if (splitGuidance) {
            b.append(" the guidance pair as two batch-1 UNet calls;");
        }
        if (vaeTile > 0) {
            b.append(" VAE decoded in overlapping tiles of ").append(vaeTile).append("×").append(vaeTile)
                    .append(" latent cells;");
        }
        if (!reduced()) {
            b.append(" plain;");
        }
        b.setLength(b.length() - 1);
        return b.toString();
    }
}
