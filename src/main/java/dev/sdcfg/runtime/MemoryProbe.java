package dev.sdcfg.runtime;

/**
 * Measures the native memory a model forward holds: while probing (this thread), each {@link ForwardScope}
 * that closes reports the bytes of the arrays it still holds open at that moment (its intermediates, which DJL
 * frees only when the scope closes; views count as full arrays, so this errs high). {@link #stop} returns the
 * largest such figure. Used once per model to calibrate the memory planner; costs nothing when not probing.
 */
public final class MemoryProbe {

    private static final ThreadLocal<long[]> PEAK = new ThreadLocal<>();

    private MemoryProbe() {
    }

    public static void start() {
        PEAK.set(new long[1]);
    }

    /** The largest bytes held by one closing scope since {@link #start}; ends probing. */
    public static long stop() {
        long[] p = PEAK.get();
        PEAK.remove();
        return p == null ? 0 : p[0];
    }

    static boolean isProbing() {
        return PEAK.get() != null;
    }

    static void observe(long bytes) {
        long[] p = PEAK.get();
        if (p != null && bytes > p[0]) {
            p[0] = bytes;
        }
    }
}
