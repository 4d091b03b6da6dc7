package dev.sdcfg.jobs;

/** The bounded queue is full: answer 429 with Retry-After. Nothing was enqueued. */
public class QueueFullException extends RuntimeException {
    private final int capacity;
    private final long retryAfterSeconds;

    public QueueFullException(int capacity, long retryAfterSeconds) {
        super("the job queue is full (" + capacity + " jobs waiting); retry later");
        this.capacity = capacity;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public int capacity() {
        return capacity;
    }

    public long retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
