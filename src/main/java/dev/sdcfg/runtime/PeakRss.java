package dev.sdcfg.runtime;

import java.util.concurrent.atomic.AtomicLong;

/**
 * The process's peak resident set size while a piece of work runs: a daemon thread reads {@code VmRSS}
 * ({@link MemoryBudget#residentSetBytes}) every few milliseconds from construction to {@link #close()}. The kernel's
 * own high-water mark (VmHWM) covers the process's whole life, so it cannot measure one generation.
 */
public final class PeakRss implements AutoCloseable {

    private final long base = MemoryBudget.residentSetBytes();
    private final AtomicLong peak = new AtomicLong(base);
    private final Thread sampler;
    private volatile boolean done;

    public PeakRss(long everyMillis) {
        sampler = new Thread(() -> {
            while (!done) {
                peak.accumulateAndGet(MemoryBudget.residentSetBytes(), Math::max);
                try {
                    Thread.sleep(everyMillis);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }, "peak-rss");
        sampler.setDaemon(true);
        sampler.start();
    }

    /** RSS when sampling started, bytes. */
    public long baseBytes() {
        return base;
    }

    /** Highest RSS seen so far, bytes. */
    public long peakBytes() {
        return peak.get();
    }

    /** Stops sampling (after one last reading) and waits for the sampler. */
    @Override
    public void close() throws InterruptedException {
        done = true;
        sampler.join();
        peak.accumulateAndGet(MemoryBudget.residentSetBytes(), Math::max);
    }
}
