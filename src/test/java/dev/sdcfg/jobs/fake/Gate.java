package dev.sdcfg.jobs.fake;

import dev.sdcfg.pipeline.GenerationListener;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Lets a test hold the fake generator at the start of each denoising step, so "running" and "queued" states are
 * reached deterministically (no sleeps). Open by default. While closed, each step takes one permit; a cancel
 * request releases the waiting step (the pipeline stops before the next one).
 */
public final class Gate {
    private final Semaphore permits = new Semaphore(0);
    private final AtomicInteger waiting = new AtomicInteger();
    private volatile boolean open = true;

    public void close() {
        open = false;
        permits.drainPermits();
    }

    public void open() {
        open = true;
        permits.release(1_000_000);
    }

    /** Lets {@code steps} more steps through while closed. */
    public void release(int steps) {
        permits.release(steps);
    }

    /** Steps blocked at the gate now (0 or 1: there is one worker). */
    public int waiting() {
        return waiting.get();
    }

    void pass(GenerationListener listener) {
        if (open) {
            return;
        }
        waiting.incrementAndGet();
        try {
            while (!open && !listener.isCanceled()) {
                if (permits.tryAcquire(10, TimeUnit.MILLISECONDS)) {
                    return;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            waiting.decrementAndGet();
        }
    }
}
