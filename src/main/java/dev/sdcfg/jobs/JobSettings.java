package dev.sdcfg.jobs;

import java.time.Duration;

/**
 * Queue and retention settings of a {@link JobService} (from {@code sd.queue.*}, {@code sd.jobs.*}).
 *
 * @param queueCapacity     jobs that may wait (the running job not counted)
 * @param ttl               how long a finished job and its images are kept
 * @param maxRetained       how many finished jobs are kept at most (oldest evicted first)
 * @param retryAfter        Retry-After for 429 before any job has finished (later: estimated from job durations)
 * @param loadingRetryAfter Retry-After for 503 while the model loads
 */
public record JobSettings(int queueCapacity, Duration ttl, int maxRetained, Duration retryAfter,
                          Duration loadingRetryAfter) {
    public JobSettings {
        if (queueCapacity < 1) {
            throw new IllegalArgumentException("queue capacity must be >= 1: " + queueCapacity);
        }
        if (maxRetained < 1) {
            throw new IllegalArgumentException("max retained jobs must be >= 1: " + maxRetained);
        }
        if (ttl.isNegative() || ttl.isZero()) {
            throw new IllegalArgumentException("job ttl must be positive: " + ttl);
        }
    }
}
