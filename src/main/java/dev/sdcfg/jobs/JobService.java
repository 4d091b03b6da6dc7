package dev.sdcfg.jobs;

import dev.sdcfg.pipeline.ImageGenerator;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * What the HTTP side talks to: the model's state, the {@link JobQueue} (in memory, or shared in Redis) and this
 * process's {@link GenerationWorker}. HTTP threads call {@link #submit}, {@link #find}, {@link #cancel} and the
 * generator's thread-safe description/validation methods via {@link #requireGenerator()}; only the worker thread
 * runs the model.
 *
 * <p>Plain Java (no CDI) so that it can be tested without Quarkus; {@code JobServiceProducer} wires it.
 */
public final class JobService {

    private static final Logger LOG = Logger.getLogger(JobService.class);
    private static final long EVICT_EVERY_MILLIS = 1000;
    private static final java.util.regex.Pattern JOB_ID =
            java.util.regex.Pattern.compile("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

    /** Model/service state as readiness and the 503 answers report it. */
    public enum State {
        /** The worker is loading the model or warming it up. */
        LOADING,
        /** Serving. */
        READY,
        /** The model could not be loaded; {@link #failureReason()} says why. */
        FAILED,
        /** Shutting down: no new jobs. */
        STOPPING,
        /** The worker has ended. */
        STOPPED
    }

    private final JobSettings settings;
    private final String modelDescription;
    private final JobMetrics metrics;
    private final LongSupplier clock;
    private final JobQueue queue;
    private final GenerationWorker worker;
    private final Object submitLock = new Object();
    private final AtomicLong accepted = new AtomicLong();
    private volatile boolean accepting = true;
    private final Object evictLock = new Object();
    private long lastEviction;

    /** In-memory mode: this process's queue and worker. */
    public JobService(JobSettings settings, Supplier<ImageGenerator> factory, String modelDescription,
                      JobMetrics metrics, LongSupplier clock) {
        this(settings, new MemoryJobQueue(settings), factory, modelDescription, metrics, clock, "local",
                Duration.ofSeconds(1));
    }

    /**
     * @param queue          where jobs wait and live (this process's memory or a shared store)
     * @param factory        creates the generator; called once, on the worker thread
     * @param modelDescription what the model is before it is loaded (for logs and GET /v1/models)
     * @param clock          wall-clock milliseconds (job timestamps and retention)
     * @param workerName     this replica's name in job views and claims
     * @param heartbeatEvery how often the running job's lease is renewed and its cancel flag read
     */
    public JobService(JobSettings settings, JobQueue queue, Supplier<ImageGenerator> factory, String modelDescription,
                      JobMetrics metrics, LongSupplier clock, String workerName, Duration heartbeatEvery) {
        this.settings = settings;
        this.modelDescription = modelDescription;
        this.metrics = metrics;
        this.clock = clock;
        this.queue = queue;
        this.worker = new GenerationWorker(queue, factory, modelDescription, metrics, clock, workerName,
                heartbeatEvery, () -> maybeEvict(false));
        metrics.bind(this);
    }

    /** Starts the worker thread, which loads the model in the background. */
    public void start() {
        worker.start();
    }

    // ---------------------------------------------------------------- HTTP side

    public State state() {
        return worker.state();
    }

    public Optional<String> failureReason() {
        return worker.failureReason();
    }

    public String modelDescription() {
        return modelDescription;
    }

    /** True when jobs live in a shared store (Redis) rather than in this process. */
    public boolean sharedQueue() {
        return queue.durable();
    }

    /** This replica's name (job views say which replica ran a job). */
    public String workerName() {
        return worker.name();
    }

    /** The loaded generator (for validate and the catalogs), or 503 while loading, failed or stopping. */
    public ImageGenerator requireGenerator() {
        checkServing();
        return worker.generator().orElseThrow(this::notReady);
    }

    /** The loaded generator when there is one. */
    public Optional<ImageGenerator> generator() {
        return worker.generator();
    }

    /**
     * Enqueues a job.
     *
     * @throws ServiceNotReadyException while loading, after a load failure, or when shutting down (503)
     * @throws QueueFullException       when the queue is full (429); nothing is enqueued
     * @throws QueueUnavailableException when the shared store cannot be reached (503); nothing is enqueued
     */
    public Job submit(JobKind kind, List<JobTask> tasks, int gridColumns) {
        return submit(kind, tasks, gridColumns, null);
    }

    /** As {@link #submit(JobKind, List, int)}; a repeated idempotency key and request return the first job. */
    public Job submit(JobKind kind, List<JobTask> tasks, int gridColumns, JobQueue.Idempotency idempotency) {
        maybeEvict(true);
        synchronized (submitLock) {
            checkServing();
            try {
                Job job = queue.submit(new JobQueue.Submission(kind, tasks, gridColumns, idempotency),
                        clock.getAsLong());
                accepted.incrementAndGet();
                return job;
            } catch (QueueFullException e) {
                metrics.rejected.increment();
                throw new QueueFullException(settings.queueCapacity(), retryAfterSeconds());
            }
        }
    }

    public Optional<Job> find(String id) {
        if (!isJobId(id)) {
            return Optional.empty();
        }
        maybeEvict(false);
        return queue.find(id);
    }

    /**
     * True for a string this service could have made a job id of (a UUID). Anything else names no job and is
     * answered 404 without a look-up, so odd ids never reach the store (no key built from them).
     */
    static boolean isJobId(String id) {
        return id != null && id.length() == 36 && JOB_ID.matcher(id).matches();
    }

    /** PNG of image {@code index} of a succeeded job. */
    public Optional<byte[]> image(String id, int index) {
        return isJobId(id) ? queue.image(id, index) : Optional.empty();
    }

    /** The grid PNG of a succeeded experiment. */
    public Optional<byte[]> grid(String id) {
        return isJobId(id) ? queue.grid(id) : Optional.empty();
    }

    /** The latest live preview of a job that asked for previews (in Redis mode: as of its worker's last heartbeat). */
    public Optional<Job.Preview> preview(String id) {
        return isJobId(id) ? queue.preview(id) : Optional.empty();
    }

    /** Waits up to {@code timeout} for a job to end (it may run on another replica); its latest view. */
    public Optional<Job> awaitFinal(Job job, Duration timeout) throws InterruptedException {
        return queue.awaitFinal(job, timeout);
    }

    /** Cancels a queued job at once, or asks the running one to stop before its next step. */
    public Optional<Job.CancelOutcome> cancel(String id) {
        if (!isJobId(id)) {
            return Optional.empty();
        }
        Optional<Job.CancelOutcome> outcome = queue.cancel(id, clock.getAsLong());
        if (outcome.isPresent() && outcome.get() == Job.CancelOutcome.CANCELED) {
            metrics.finished(JobStatus.CANCELED);
        }
        return outcome;
    }

    /** Forgets a finished job and its images now; false when it is not finished (or unknown). */
    public boolean delete(String id) {
        return isJobId(id) && queue.delete(id);
    }

    /** 1 = next to run; empty when the job is not waiting. */
    public OptionalInt queuePosition(Job job) {
        return queue.queuePosition(job.id());
    }

    public int queueDepth() {
        return queue.depth();
    }

    public int capacity() {
        return settings.queueCapacity();
    }

    /** The job this replica's worker runs now. */
    public Optional<Job> runningJob() {
        return worker.runningJob();
    }

    /** Jobs accepted into the queue by this process since start. */
    public long acceptedTotal() {
        return accepted.get();
    }

    /** Jobs held now (queued, running and retained finished ones). */
    public int retainedJobs() {
        return queue.retained();
    }

    public boolean workerAlive() {
        return worker.alive();
    }

    /** Seconds a client should wait before retrying a 429: mean job time × jobs ahead, or the configured value. */
    long retryAfterSeconds() {
        double mean = metrics.meanJobSeconds();
        long fallback = Math.max(1, settings.retryAfter().toSeconds());
        if (mean <= 0) {
            return fallback;
        }
        long estimate = (long) Math.ceil(mean * (settings.queueCapacity() + 1));
        return Math.max(1, Math.min(3600, estimate));
    }

    private void checkServing() {
        if (!accepting) {
            throw new ServiceNotReadyException(State.STOPPING, "the service is shutting down", 0);
        }
        if (worker.state() != State.READY) {
            throw notReady();
        }
    }

    private ServiceNotReadyException notReady() {
        State s = worker.state();
        switch (s) {
            case LOADING:
                return new ServiceNotReadyException(s, "the model is loading (" + modelDescription + ")",
                        Math.max(1, settings.loadingRetryAfter().toSeconds()));
            case FAILED:
                return new ServiceNotReadyException(s, "the model failed to load: " + worker.failureReason().orElse(""),
                        Math.max(1, settings.loadingRetryAfter().toSeconds()) * 6);
            default:
                return new ServiceNotReadyException(s, "the service is shutting down", 0);
        }
    }

    /** A local store drops expired jobs when it is read (at most once a second) and before each submission. */
    private void maybeEvict(boolean force) {
        if (queue.durable()) {
            return; // Redis expires keys itself
        }
        long now = clock.getAsLong();
        synchronized (evictLock) {
            if (!force && now - lastEviction < EVICT_EVERY_MILLIS) {
                return;
            }
            lastEviction = now;
        }
        queue.evict(now);
    }

    // ---------------------------------------------------------------- shutdown

    /**
     * Stops accepting and claiming jobs (new submissions get 503); the running job goes on. A local queue cancels its
     * waiting jobs (they would die with the process); a shared queue keeps them for the other replicas. Called at
     * the start of a graceful shutdown.
     */
    public void stopAccepting() {
        synchronized (submitLock) {
            if (!accepting) {
                return;
            }
            accepting = false;
        }
        worker.stopClaiming();
        worker.markStopping();
        List<Job> canceled = queue.stopAccepting(clock.getAsLong());
        for (int i = 0; i < canceled.size(); i++) {
            metrics.finished(JobStatus.CANCELED);
        }
        if (!canceled.isEmpty()) {
            LOG.infof("Shutdown: canceled %d queued job(s)", canceled.size());
        } else if (queue.durable()) {
            LOG.info("Shutdown: queued jobs stay in the shared queue for the other replicas");
        }
    }

    /**
     * Graceful stop: {@link #stopAccepting()}, let the running job finish (up to {@code grace}; then it is handed
     * back: another replica takes it, or, in memory, it is canceled), end the worker, which closes the generator on
     * its own thread.
     */
    public void shutdown(Duration grace) {
        stopAccepting();
        worker.stop(grace);
        queue.close();
    }
}
