package dev.sdcfg.jobs;

/**
 * The service cannot take generation work now: the model is loading, failed to load, or the service is shutting
 * down. Answer 503 with Retry-After ({@link #retryAfterSeconds()} is 0 when retrying will not help soon).
 */
public class ServiceNotReadyException extends RuntimeException {
    private final JobService.State state;
    private final long retryAfterSeconds;

    public ServiceNotReadyException(JobService.State state, String message, long retryAfterSeconds) {
        super(message);
        this.state = state;
        this.retryAfterSeconds = retryAfterSeconds;
    }

    public JobService.State state() {
        return state;
    }

    public long retryAfterSeconds() {
        return retryAfterSeconds;
    }
}
