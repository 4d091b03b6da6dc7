package dev.sdcfg.runtime;

import java.util.concurrent.atomic.AtomicLong;

/**
 * How many bytes one attention call may use for its score matrix (scores plus softmax probabilities, at the
 * precision the softmax runs in). Above it, {@code Ops.scaledAttention} computes the attention for one chunk of
 * queries at a time (each query row's softmax is independent of the others, so the numbers are those of the
 * unchunked path up to the matmul kernel's blocking).
 *
 * <p>The limit is process-wide (one worker thread runs the models); the pipeline sets it per job from its
 * memory plan with {@link #limit}, which restores the previous value when closed.
 * Default: unlimited, i.e. the unchunked path, which issues no extra op.
 */
public final class AttentionBudget {

    /** No chunking. */
    public static final long UNLIMITED = Long.MAX_VALUE;

    private static volatile long scoreBytes = UNLIMITED;
    private static final AtomicLong CHUNKED_CALLS = new AtomicLong();

    private AttentionBudget() {
    }

    /** The current limit in bytes for one call's scores + probabilities. */
    public static long scoreBytes() {
        return scoreBytes;
    }

    /** Sets the limit until the returned handle is closed (then the previous limit is back). */
    public static Restore limit(long bytes) {
        if (bytes <= 0) {
            throw new IllegalArgumentException("attention score budget must be positive, got " + bytes);
        }
        long previous = scoreBytes;
        scoreBytes = bytes;
        return () -> scoreBytes = previous;
    }

    /** Attention calls that ran in query chunks since the process started (tests, diagnostics). */
    public static long chunkedCalls() {
        return CHUNKED_CALLS.get();
    }

    /** Called by Ops when it chunks. */
    public static void recordChunkedCall() {
        CHUNKED_CALLS.incrementAndGet();
    }

    /** Restores the previous limit. */
    @FunctionalInterface
    public interface Restore extends AutoCloseable {
        @Override
        void close();
    }
}
