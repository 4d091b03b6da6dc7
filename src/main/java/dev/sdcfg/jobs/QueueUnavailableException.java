package dev.sdcfg.jobs;

/**
 * The shared job store cannot be reached (Redis down, timing out). Answer 503 with Retry-After; a submission that
 * got this was not stored. The process stays up and recovers when the store returns.
 */
public class QueueUnavailableException extends RuntimeException {
    private final long retryAfterSeconds;

    public QueueUnavailableException(String message, Throwable cause, long retryAfterSeconds) {
        super(message, cause);
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public long retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
