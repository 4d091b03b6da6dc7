package dev.sdcfg.jobs;

import ai.djl.engine.EngineException;
import dev.sdcfg.pipeline.GeneratedImage;
import dev.sdcfg.pipeline.GenerationCanceledException;
import dev.sdcfg.pipeline.GenerationListener;
import dev.sdcfg.pipeline.GenerationResult;
import dev.sdcfg.pipeline.ImageGenerator;
import dev.sdcfg.pipeline.InvalidRequestException;
import dev.sdcfg.pipeline.image.ImageGrid;
import dev.sdcfg.pipeline.image.PngEncoder;
import org.jboss.logging.Logger;

import java.awt.image.BufferedImage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The job queue and the one worker thread that owns the {@link ImageGenerator}.
 *
 * <p>The worker creates the generator itself (so engine start-up, weights and every NDArray belong to that
 * thread), runs {@link ImageGenerator#warmUp()}, then takes jobs from a bounded queue one at a time. HTTP
 * threads only call {@link #submit}, {@link #find}, {@link #cancel} and the generator's thread-safe
 * description/validation methods via {@link #requireGenerator()}.
 *
 * <p>Plain Java (no CDI) so that it can be tested without Quarkus; {@code JobServiceProducer} wires it.
 */
public final class JobService {

    private static final Logger LOG = Logger.getLogger(JobService.class);
    private static final long POLL_MILLIS = 250;
    private static final long EVICT_EVERY_MILLIS = 1000;

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
    private final Supplier<ImageGenerator> factory;
    private final String modelDescription;
    private final JobMetrics metrics;
    private final LongSupplier clock;
    private final JobStore store = new JobStore();
    private final LinkedBlockingQueue<Job> queue;
    private final Object submitLock = new Object();
    private final CountDownLatch stopped = new CountDownLatch(1);
    private final AtomicLong accepted = new AtomicLong();

    private volatile State state = State.LOADING;
    private volatile String failureReason;
    private volatile ImageGenerator generator;
    private volatile boolean accepting = true;
    private volatile boolean stopWorker;
    private volatile Job running;
    private volatile Thread worker;
    private long lastEviction;

    /**
     * @param factory          creates the generator; called once, on the worker thread
     * @param modelDescription what the model is before it is loaded (for logs and GET /v1/models)
     * @param clock            wall-clock milliseconds (job timestamps and retention)
     */
    public JobService(JobSettings settings, Supplier<ImageGenerator> factory, String modelDescription,
                      JobMetrics metrics, LongSupplier clock) {
        this.settings = settings;
        this.factory = factory;
        this.modelDescription = modelDescription;
        this.metrics = metrics;
        this.clock = clock;
        this.queue = new LinkedBlockingQueue<>(settings.queueCapacity());
        metrics.bind(this);
    }

    /** Starts the worker thread, which loads the model in the background. */
    public synchronized void start() {
        if (worker != null) {
            return;
        }
        Thread t = new Thread(this::workerMain, "sd-generation-worker");
        t.setDaemon(true);
        // the engine and the model load classes and resources through the application's class loader
        t.setContextClassLoader(Thread.currentThread().getContextClassLoader());
        worker = t;
        t.start();
    }

    // ---------------------------------------------------------------- HTTP side

    public State state() {
        return state;
    }

    public Optional<String> failureReason() {
        return Optional.ofNullable(failureReason);
    }

    public String modelDescription() {
        return modelDescription;
    }

    /** The loaded generator (for validate and the catalogs), or 503 while loading, failed or stopping. */
    public ImageGenerator requireGenerator() {
        checkServing();
        ImageGenerator g = generator;
        if (g == null) {
            throw notReady();
        }
        return g;
    }

    /** The loaded generator when there is one. */
    public Optional<ImageGenerator> generator() {
        return Optional.ofNullable(generator);
    }

    /**
     * Enqueues a job.
     *
     * @throws ServiceNotReadyException while loading, after a load failure, or when shutting down (503)
     * @throws QueueFullException       when the queue is full (429); nothing is enqueued
     */
    public Job submit(JobKind kind, List<JobTask> tasks, int gridColumns) {
        maybeEvict(true);
        synchronized (submitLock) {
            checkServing();
            Job job = new Job(UUID.randomUUID().toString(), kind, tasks, gridColumns, clock.getAsLong(),
                    System.nanoTime());
            store.put(job);
            if (!queue.offer(job)) {
                store.remove(job);
                metrics.rejected.increment();
                throw new QueueFullException(settings.queueCapacity(), retryAfterSeconds());
            }
            accepted.incrementAndGet();
            return job;
        }
    }

    public Optional<Job> find(String id) {
        maybeEvict(false);
        return store.get(id);
    }

    /** Cancels a queued job at once, or asks the running one to stop before its next step. */
    public Optional<Job.CancelOutcome> cancel(String id) {
        Optional<Job> job = store.get(id);
        if (job.isEmpty()) {
            return Optional.empty();
        }
        Job j = job.get();
        Job.CancelOutcome outcome = j.requestCancel(clock.getAsLong());
        if (outcome == Job.CancelOutcome.CANCELED) {
            queue.remove(j);
            metrics.finished(JobStatus.CANCELED);
        }
        return Optional.of(outcome);
    }

    /** Forgets a finished job and its images now; false when it is not finished (or unknown). */
    public boolean delete(String id) {
        Optional<Job> job = store.get(id);
        return job.isPresent() && job.get().isFinal() && store.remove(job.get());
    }

    /** 1 = next to run; empty when the job is not waiting. */
    public OptionalInt queuePosition(Job job) {
        int i = 1;
        for (Job j : queue) {
            if (j == job) {
                return OptionalInt.of(i);
            }
            i++;
        }
        return OptionalInt.empty();
    }

    public int queueDepth() {
        return queue.size();
    }

    public int capacity() {
        return settings.queueCapacity();
    }

    public Optional<Job> runningJob() {
        return Optional.ofNullable(running);
    }

    /** Jobs accepted into the queue since start. */
    public long acceptedTotal() {
        return accepted.get();
    }

    /** Jobs held now (queued, running and retained finished ones). */
    public int retainedJobs() {
        return store.size();
    }

    public boolean workerAlive() {
        Thread t = worker;
        return t != null && t.isAlive();
    }

    /** Seconds a client should wait before retrying a 429: mean job time × jobs ahead, or the configured value. */
    long retryAfterSeconds() {
        double mean = metrics.meanJobSeconds();
        long fallback = Math.max(1, settings.retryAfter().toSeconds());
        if (mean <= 0) {
            return fallback;
        }
        long estimate = (long) Math.ceil(mean * (queue.size() + 1));
        return Math.max(1, Math.min(3600, estimate));
    }

    private void checkServing() {
        if (!accepting) {
            throw new ServiceNotReadyException(State.STOPPING, "the service is shutting down", 0);
        }
        State s = state;
        if (s != State.READY) {
            throw notReady();
        }
    }

    private ServiceNotReadyException notReady() {
        State s = state;
        switch (s) {
            case LOADING:
                return new ServiceNotReadyException(s, "the model is loading (" + modelDescription + ")",
                        Math.max(1, settings.loadingRetryAfter().toSeconds()));
            case FAILED:
                return new ServiceNotReadyException(s, "the model failed to load: " + failureReason,
                        Math.max(1, settings.loadingRetryAfter().toSeconds()) * 6);
            default:
                return new ServiceNotReadyException(s, "the service is shutting down", 0);
        }
    }

    // ---------------------------------------------------------------- shutdown

    /**
     * Stops accepting jobs (new submissions get 503) and cancels every queued job; the running job goes on.
     * Called at the start of a graceful shutdown.
     */
    public void stopAccepting() {
        synchronized (submitLock) {
            if (!accepting) {
                return;
            }
            accepting = false;
        }
        if (state == State.READY || state == State.LOADING) {
            state = State.STOPPING;
        }
        List<Job> waiting = new ArrayList<>();
        queue.drainTo(waiting);
        long now = clock.getAsLong();
        for (Job j : waiting) {
            if (j.finish(JobStatus.CANCELED, "shutdown", "the service shut down before this job started", now)) {
                metrics.finished(JobStatus.CANCELED);
            }
        }
        if (!waiting.isEmpty()) {
            LOG.infof("Shutdown: canceled %d queued job(s)", waiting.size());
        }
    }

    /**
     * Graceful stop: {@link #stopAccepting()}, let the running job finish (up to {@code grace}; then it is asked
     * to cancel), end the worker, which closes the generator on its own thread.
     */
    public void shutdown(Duration grace) {
        stopAccepting();
        stopWorker = true;
        Thread t = worker;
        if (t == null) {
            state = State.STOPPED;
            return;
        }
        Job r = running;
        if (r != null) {
            LOG.infof("Shutdown: waiting up to %s for running job %s", grace, r.id());
        }
        try {
            if (!stopped.await(Math.max(1, grace.toMillis()), TimeUnit.MILLISECONDS)) {
                Job still = running;
                if (still != null) {
                    LOG.warnf("Shutdown: job %s still running after %s; canceling it", still.id(), grace);
                    still.requestCancel(clock.getAsLong());
                }
                if (!stopped.await(10, TimeUnit.SECONDS)) {
                    LOG.warn("Shutdown: the generation worker did not stop; leaving it behind");
                    return;
                }
            }
            t.join(5000); // the latch opens in the worker's last lines; let the thread end
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------- worker

    private void workerMain() {
        ImageGenerator gen = null;
        try {
            LOG.infof("Loading the model on the generation worker thread: %s", modelDescription);
            long t0 = System.nanoTime();
            gen = factory.get();
            if (gen == null) {
                throw new IllegalStateException("the generator factory returned null");
            }
            gen.warmUp();
            generator = gen;
            if (state == State.LOADING) {
                state = State.READY;
            }
            LOG.infof("Model ready after %.1f s: %s", (System.nanoTime() - t0) / 1e9, modelDescription);
        } catch (Throwable t) {
            failureReason = describe(t);
            state = State.FAILED;
            LOG.errorf(t, "The model could not be loaded (%s): %s", modelDescription, failureReason);
            if (gen != null) {
                closeQuietly(gen);
                gen = null;
            }
        }
        try {
            while (!stopWorker) {
                Job job = null;
                try {
                    job = gen == null ? null : queue.poll(POLL_MILLIS, TimeUnit.MILLISECONDS);
                    if (gen == null) {
                        Thread.sleep(POLL_MILLIS);
                    }
                } catch (InterruptedException e) {
                    if (stopWorker) {
                        break;
                    }
                }
                if (job != null) {
                    runJob(gen, job);
                }
                maybeEvict(false);
            }
        } finally {
            generator = null;
            if (gen != null) {
                closeQuietly(gen);
            }
            state = State.STOPPED;
            stopped.countDown();
            LOG.info("Generation worker stopped");
        }
    }

    private void runJob(ImageGenerator gen, Job job) {
        long startNanos = System.nanoTime();
        if (!job.start(clock.getAsLong())) {
            return; // canceled while it waited
        }
        running = job;
        metrics.record(metrics.queueWait, startNanos - job.enqueuedNanos());
        JobStatus outcome = JobStatus.FAILED;
        String errorType = null;
        String error = null;
        try {
            List<JobTask> tasks = job.tasks();
            for (int i = 0; i < tasks.size(); i++) {
                if (job.cancelRequested()) {
                    throw new GenerationCanceledException("canceled after " + i + " of " + tasks.size() + " generations");
                }
                job.beginTask(i);
                GenerationResult result = gen.generate(tasks.get(i).request(), new JobListener(job, i));
                if (result == null || result.images() == null) {
                    throw new IllegalStateException("the generator returned no result");
                }
                job.addResult(i, result);
                metrics.images.increment(result.images().size());
            }
            if (job.kind() == JobKind.EXPERIMENT) {
                job.setGrid(grid(job));
            }
            outcome = JobStatus.SUCCEEDED;
        } catch (GenerationCanceledException e) {
            outcome = JobStatus.CANCELED;
            errorType = "canceled";
            error = e.getMessage() == null ? "canceled while running" : e.getMessage();
        } catch (InvalidRequestException e) {
            errorType = "invalid_request";
            error = e.field() + ": " + e.getMessage();
        } catch (EngineException e) {
            errorType = isOutOfMemory(e) ? "out_of_memory" : "engine_error";
            error = describe(e);
        } catch (OutOfMemoryError e) {
            errorType = "out_of_memory";
            error = "the JVM ran out of memory: " + e.getMessage();
        } catch (Throwable t) {
            errorType = isOutOfMemory(t) ? "out_of_memory" : "internal_error";
            error = describe(t);
        } finally {
            long runNanos = System.nanoTime() - startNanos;
            if (outcome == JobStatus.FAILED) {
                LOG.errorf("Job %s failed (%s): %s", job.id(), errorType, error);
                if ("out_of_memory".equals(errorType)) {
                    metrics.memory.outOfMemory();
                }
            }
            // metrics first: whoever sees the job final also sees it counted
            metrics.record(metrics.jobDuration, runNanos);
            metrics.finished(outcome);
            job.finish(outcome, errorType, error, clock.getAsLong());
            running = null;
        }
    }

    private byte[] grid(Job job) {
        List<BufferedImage> images = new ArrayList<>();
        List<String> titles = new ArrayList<>();
        List<GeneratedImage> done = job.imagesForGrid();
        for (int i = 0; i < done.size(); i++) {
            images.add(PngEncoder.decode(done.get(i).png()));
            titles.add(job.labelOf(i));
        }
        BufferedImage grid = ImageGrid.compose(images, titles, Math.max(1, job.gridColumns()));
        Map<String, String> text = new LinkedHashMap<>();
        String prompt = job.tasks().get(0).request().prompt();
        text.put("Title", "Guidance experiment: " + prompt);
        StringBuilder desc = new StringBuilder();
        for (int i = 0; i < titles.size(); i++) {
            desc.append(i).append(": ").append(titles.get(i)).append('\n');
        }
        text.put("Description", desc.toString().strip());
        text.put("Software", "sd-guidance-service");
        return PngEncoder.encode(grid, text);
    }

    private void maybeEvict(boolean force) {
        long now = clock.getAsLong();
        synchronized (store) {
            if (!force && now - lastEviction < EVICT_EVERY_MILLIS) {
                return;
            }
            lastEviction = now;
        }
        store.evict(now, settings.ttl(), settings.maxRetained());
    }

    private static boolean isOutOfMemory(Throwable t) {
        return dev.sdcfg.runtime.OutOfMemory.is(t);
    }

    static String describe(Throwable t) {
        String m = t.getMessage();
        String base = m == null || m.isBlank() ? t.getClass().getSimpleName() : m;
        Throwable c = t.getCause();
        if (c != null && c != t && c.getMessage() != null && !base.contains(c.getMessage())) {
            base = base + " (" + c.getClass().getSimpleName() + ": " + c.getMessage() + ")";
        }
        return base.length() > 2000 ? base.substring(0, 2000) + "…" : base;
    }

    private static void closeQuietly(ImageGenerator gen) {
        try {
            gen.close();
        } catch (Throwable t) {
            LOG.warn("Closing the generator failed", t);
        }
    }

    /** Feeds progress and stage timings from the worker thread into the job and the meters. */
    private final class JobListener implements GenerationListener {
        private final Job job;
        private final int task;

        JobListener(Job job, int task) {
            this.job = job;
            this.task = task;
        }

        @Override
        public boolean isCanceled() {
            return job.cancelRequested();
        }

        @Override
        public void onStep(int image, int step, int totalSteps, long nanos) {
            metrics.record(metrics.denoiseStep, nanos);
            job.onStep(task, image, step, totalSteps);
        }

        @Override
        public void onTextEncoded(long nanos) {
            metrics.record(metrics.textEncode, nanos);
        }

        @Override
        public void onUnetForward(long nanos) {
            metrics.record(metrics.unetForward, nanos);
        }

        @Override
        public void onVaeDecoded(long nanos) {
            metrics.record(metrics.vaeDecode, nanos);
        }

        @Override
        public void onMemoryPlan(dev.sdcfg.pipeline.MemoryPlan plan) {
            metrics.memory.planned(plan);
        }
    }
}
