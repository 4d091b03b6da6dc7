package dev.sdcfg.pipeline;

import java.util.List;

/**
 * Estimates a job's peak working memory and picks the plan that fits a budget (see README "Memory"). Pure
 * arithmetic on a model's {@link Footprint}; no NDArray is touched, so the API may call it while validating.
 *
 * <p>What is estimated (beyond the resident weights, which the budget already excludes): the UNet forward's
 * activations (DJL frees a forward's intermediates only when it returns, so all of them count), measured once
 * per model at two small sizes and scaled with the latent area and batch; the largest attention call's scores and
 * probabilities (closed right after use, so one call's at a time), or one query chunk of them; the same for one
 * VAE decode (images are decoded one at a time), or for one tile of a tiled decode when the whole image does not
 * fit. Images are generated one after another, so {@code n} does not
 * change the peak (their PNGs live on the Java heap, outside this budget).
 */
public final class MemoryPlanner {

    /** Margin on the measured activations (allocator slack, views counted as copies only partly cover it). */
    static final double SAFETY = 1.25;
    /** The fewest query rows a chunk should have: below it a plan is considered not to fit. */
    static final long MIN_QUERY_ROWS = 16;

    /**
     * One kind of attention call: its queries are the latent cells divided by {@code scale}², its keys the
     * {@code contextTokens} (cross-attention) or the queries themselves (self-attention, contextTokens 0).
     */
    public record Site(int scale, long heads, long contextTokens, int elementBytes, boolean upcastHalf) {

        long queries(long cells) {
            return Math.max(1, cells / ((long) scale * scale));
        }

        long perQuery(long batch, long cells) {
            long m = contextTokens > 0 ? contextTokens : queries(cells);
            long lead = batch * heads;
            int el = upcastHalf ? 4 : elementBytes;
            long b = lead * m * 2L * el;
            if (upcastHalf) {
                b += lead * m * elementBytes;
            }
            return b;
        }

        long full(long batch, long cells) {
            return perQuery(batch, cells) * queries(cells);
        }

        long minimal(long batch, long cells) {
            return perQuery(batch, cells) * Math.min(queries(cells), MIN_QUERY_ROWS);
        }
    }

    /**
     * A model's memory facts.
     *
     * @param weightBytes  resident weights (all components)
     * @param unetFixed    UNet forward bytes that do not grow with the image
     * @param unetPerCell  UNet forward bytes per latent cell and batch item
     * @param vaeFixed     VAE decode bytes that do not grow with the image
     * @param vaePerCell   VAE decode bytes per latent cell decoded
     * @param unetSites    the UNet's attention calls
     * @param vaeSite      the VAE's mid-block attention, or null
     * @param scaleFactor  pixels per latent cell per side (8)
     * @param vaeTile      side in latent cells of the tiles a tiled VAE decode uses (0: no tiling)
     */
    public record Footprint(long weightBytes, long unetFixed, double unetPerCell, long vaeFixed, double vaePerCell,
                            List<Site> unetSites, Site vaeSite, int scaleFactor, int vaeTile) {
    }

    private final Footprint fp;

    public MemoryPlanner(Footprint footprint) {
        this.fp = footprint;
    }

    public Footprint footprint() {
        return fp;
    }

    long unetActivations(long batch, long cells) {
        return (long) (SAFETY * (fp.unetFixed() + fp.unetPerCell() * cells * batch));
    }

    long vaeActivations(long cells) {
        return (long) (SAFETY * (fp.vaeFixed() + fp.vaePerCell() * cells));
    }

    private long unetAttention(long batch, long cells, boolean full) {
        long max = 0;
        for (Site s : fp.unetSites()) {
            max = Math.max(max, full ? s.full(batch, cells) : s.minimal(batch, cells));
        }
        return max;
    }

    private long vaeAttention(long cells, boolean full) {
        Site s = fp.vaeSite();
        return s == null ? 0 : full ? s.full(1, cells) : s.minimal(1, cells);
    }

    /**
     * The plan for one image of {@code width}×{@code height} with the guidance pair ({@code guidancePair}: batch 2)
     * under {@code budget} bytes of working memory.
     */
    public MemoryPlan plan(int width, int height, boolean guidancePair, long budget) {
        long cells = (long) (width / fp.scaleFactor()) * (height / fp.scaleFactor());
        // the VAE: whole image, one at a time; else in tiles (diffusers' tiled_decode) when the image is larger
        int tile = 0;
        long vaeCells = cells;
        long vaeActs = vaeActivations(cells);
        long vaeAvail = budget - vaeActs;
        boolean vaeFits = vaeAvail >= vaeAttention(cells, false);
        int t = fp.vaeTile();
        long latentW = width / fp.scaleFactor();
        long latentH = height / fp.scaleFactor();
        if (!vaeFits && t > 0 && (latentW > t || latentH > t)) {
            tile = t;
            vaeCells = Math.min(latentW, t) * Math.min(latentH, t);
            vaeActs = vaeActivations(vaeCells);
            vaeAvail = budget - vaeActs;
            vaeFits = vaeAvail >= vaeAttention(vaeCells, false);
        }
        // the UNet: the pair in one call, else as two batch-1 calls
        long[] batches = guidancePair ? new long[] {2, 1} : new long[] {1};
        for (long b : batches) {
            long acts = unetActivations(b, cells);
            long avail = budget - acts;
            if (avail < unetAttention(b, cells, false) || !vaeFits) {
                continue;
            }
            long limit = Math.min(avail, vaeAvail);
            long unetAttn = Math.min(unetAttention(b, cells, true), limit);
            long vaeAttn = Math.min(vaeAttention(vaeCells, true), limit);
            boolean chunked = unetAttention(b, cells, true) > limit || vaeAttention(vaeCells, true) > limit;
            long estimate = Math.max(acts + unetAttn, vaeActs + vaeAttn);
            return new MemoryPlan(true, estimate, budget, limit, chunked, b == 1 && guidancePair, tile);
        }
        // the leanest plan there is, for the refusal's message
        long leanest = Math.max(unetActivations(1, cells) + unetAttention(1, cells, false),
                vaeActs + vaeAttention(vaeCells, false));
        return new MemoryPlan(false, leanest, budget, budget, true, guidancePair, tile);
    }
}
