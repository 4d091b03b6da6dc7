package dev.sdcfg.jobs;

/** An Idempotency-Key already names a job made from another request body (answer 422; nothing is stored). */
public class IdempotencyConflictException extends RuntimeException {
    private final String jobId;

    public IdempotencyConflictException(String jobId) {
        super("this Idempotency-Key was used with another request body (job " + jobId + "); use a new key");
        this.jobId = jobId;
    }

    public String jobId() {
        return jobId;
    }
}
