package dev.sdcfg.jobs;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.function.LongSupplier;

/**
 * Where jobs wait and live: the queue/state contract between the HTTP side and the {@link GenerationWorker}.
 *
 * <p>Two implementations keep the same semantics (one contract test suite runs against both):
 * {@link MemoryJobQueue} (default; this process only) and {@link RedisJobQueue} (shared by every replica, durable,
 * on when {@code quarkus.redis.hosts} is set). HTTP threads call {@link #submit}, {@link #find}, {@link #cancel} …;
 * the worker calls {@link #claim} only when its model is idle, then {@link #heartbeat} (from its heartbeat thread,
 * never the model's thread), {@link #complete} or {@link #handBack}.
 */
public interface JobQueue extends AutoCloseable {

    /** What {@link #submit} was given: the tasks plus an optional idempotency fingerprint. */
    record Submission(JobKind kind, List<JobTask> tasks, int gridColumns, Idempotency idempotency) {
    }

    /**
     * An Idempotency-Key and a digest of the request it came with (the same key with another digest is refused).
     */
    record Idempotency(String key, String requestDigest) {
    }

    /**
     * A job taken by a worker: {@code job} is the worker's working object (progress and results are written to it),
     * {@code attempt} counts runs (a job reclaimed after a crash gets the next one), {@code token} is the
     * implementation's handle (the stream entry in Redis).
     */
    record Claim(Job job, int attempt, String worker, String token) {
    }

    /** What a heartbeat learned. */
    enum Lease {
        /** Still the owner; go on. */
        HELD,
        /** Still the owner, and someone asked to cancel the job. */
        CANCEL,
        /** Another worker took the job over (this one was too slow to renew): stop, write nothing. */
        LOST
    }

    /**
     * Stores and enqueues a job (the seeds are already fixed in the tasks).
     *
     * @throws QueueFullException       the global capacity is reached; nothing was stored
     * @throws IdempotencyConflictException the idempotency key was used with another request
     * @throws QueueUnavailableException the store cannot be reached; nothing was stored
     */
    Job submit(Submission submission, long nowMillis);

    Optional<Job> find(String id);

    /** PNG of image {@code index} of a succeeded job. */
    Optional<byte[]> image(String id, int index);

    /** The grid PNG of a succeeded experiment. */
    Optional<byte[]> grid(String id);

    /**
     * The latest live preview of a job (see {@link Job#latestPreview}); a shared store holds it under a key of its
     * own that expires, so it may outlive the job's run by that time.
     */
    default Optional<Job.Preview> preview(String id) {
        return find(id).flatMap(Job::latestPreview);
    }

    /** Cancels a queued job now, or flags a running one (its worker stops before the next step). */
    Optional<Job.CancelOutcome> cancel(String id, long nowMillis);

    /** Forgets a finished job and its images; false when it is not finished or unknown. */
    boolean delete(String id);

    /** 1 = next to run; empty when the job is not waiting. */
    OptionalInt queuePosition(String id);

    /** Jobs waiting (all replicas, for a shared queue). */
    int depth();

    /** Jobs held now (queued, running and retained finished ones); -1 when the store does not count them. */
    int retained();

    /** Waits up to {@code timeout} for the job to reach a final status; the latest view of it (empty: gone). */
    Optional<Job> awaitFinal(Job job, Duration timeout) throws InterruptedException;

    // ---------------------------------------------------------------- worker side

    /**
     * The next job for {@code worker}, started (status running, attempt counted), or empty after up to
     * {@code wait}. A shared queue first takes over jobs whose worker stopped renewing its lease. {@code clock} is
     * read once a job is taken (after the wait), for its start time.
     */
    Optional<Claim> claim(String worker, Duration wait, LongSupplier clock) throws InterruptedException;

    /** Renews the lease of a running job and publishes its progress; says whether to go on. */
    Lease heartbeat(Claim claim, long nowMillis);

    /**
     * Ends the claimed job with the outcome already recorded on {@code claim.job()} (final status, results, grid).
     * False when the claim was lost: nothing was written.
     */
    boolean complete(Claim claim, long nowMillis);

    /** Gives a running job back unfinished (shutdown): another worker may take it at once. */
    void handBack(Claim claim, long nowMillis);

    /**
     * Shutdown of this process: a local queue cancels its waiting jobs (they would be lost) and returns them; a
     * durable queue keeps them for other replicas and returns none.
     */
    List<Job> stopAccepting(long nowMillis);

    /** True when jobs outlive this process (a shared store). */
    boolean durable();

    /**
     * Registers a listener for cancel requests of running jobs (their ids) that arrive from other processes, so the
     * worker stops before its next step instead of at its next heartbeat. A local queue has no such messages.
     */
    default void onCancelRequested(java.util.function.Consumer<String> listener) {
    }

    /** Drops expired finished jobs (a store with its own expiry does nothing). */
    void evict(long nowMillis);

    @Override
    default void close() {
    }
}
