package dev.sdcfg.runtime;

/**
 * Counts NDArrays created inside {@link ForwardScope}s on the current thread while enabled (benchmarks only; a
 * disabled counter costs one ThreadLocal read per forward). Arrays kept alive as results (unregistered from the
 * scope) are not counted, so the figure slightly under-counts, by one per forward.
 */
public final class OpCounter {

    private static final ThreadLocal<long[]> COUNT = new ThreadLocal<>();

    private OpCounter() {
    }

    public static void start() {
        COUNT.set(new long[1]);
    }

    /** Stops counting and returns the count since {@link #start()}. */
    public static long stop() {
        long[] c = COUNT.get();
        COUNT.remove();
        return c == null ? 0 : c[0];
    }

    static boolean isCounting() {
        return COUNT.get() != null;
    }

    static void add(long n) {
        long[] c = COUNT.get();
        if (c != null) {
            c[0] += n;
        }
    }
}
