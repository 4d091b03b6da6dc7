package dev.sdcfg.jobs;

import ai.djl.engine.EngineException;
import dev.sdcfg.pipeline.GenerationCanceledException;
import dev.sdcfg.pipeline.GenerationListener;
import dev.sdcfg.pipeline.GenerationResult;
import dev.sdcfg.pipeline.ImageGenerator;
import dev.sdcfg.pipeline.InvalidRequestException;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * The one thread that owns the {@link ImageGenerator}, and its heartbeat thread.
 *
 * <p>The worker thread creates the generator itself (engine start-up, weights and every NDArray belong to it), warms
 * it up, then claims one job at a time from the {@link JobQueue} — only while the model is idle, so a shared queue
 * never hands this replica more than it runs. The heartbeat thread renews the claim's lease and carries cancel
 * requests to the running job; it is a separate thread so that a long UNet call never lets the lease lapse.
 */
final class GenerationWorker {

    private static final Logger LOG = Logger.getLogger(GenerationWorker.class);
    private static final Duration CLAIM_WAIT = Duration.ofMillis(250);
    /** After a store error the worker waits this long before it tries again (the process stays up). */
    private static final long STORE_RETRY_MILLIS = 1000;

    private final JobQueue queue;
    private final Supplier<ImageGenerator> factory;
    private final String modelDescription;
    private final JobMetrics metrics;
    private final LongSupplier clock;
    private final String name;
    private final Duration heartbeatEvery;
    private final Runnable evictor;
    private final CountDownLatch stopped = new CountDownLatch(1);

    private volatile JobService.State state = JobService.State.LOADING;
    private volatile String failureReason;
    private volatile ImageGenerator generator;
    private volatile boolean claiming = true;
    private volatile boolean stop;
    private volatile Running running;
    private volatile Thread thread;
    private volatile Thread heartbeat;
    private long lastStoreWarning;

    /** The claim being run, and whether it was handed back (then the worker writes nothing for it). */
    private static final class Running {
        final JobQueue.Claim claim;
        volatile boolean handedBack;

        Running(JobQueue.Claim claim) {
            this.claim = claim;
        }
    }

    GenerationWorker(JobQueue queue, Supplier<ImageGenerator> factory, String modelDescription, JobMetrics metrics,
                     LongSupplier clock, String name, Duration heartbeatEvery, Runnable evictor) {
        this.queue = queue;
        this.factory = factory;
        this.modelDescription = modelDescription;
        this.metrics = metrics;
        this.clock = clock;
        this.name = name;
        this.heartbeatEvery = heartbeatEvery;
        this.evictor = evictor;
        queue.onCancelRequested(id -> {
            Running r = running;
            if (r != null && r.claim.job().id().equals(id) && !r.claim.job().cancelRequested()) {
                r.claim.job().requestCancel(clock.getAsLong());
            }
        });
    }

    synchronized void start() {
        if (thread != null) {
            return;
        }
        Thread t = new Thread(this::main, "sd-generation-worker");
        t.setDaemon(true);
        // the engine and the model load classes and resources through the application's class loader
        t.setContextClassLoader(Thread.currentThread().getContextClassLoader());
        thread = t;
        Thread h = new Thread(this::heartbeatMain, "sd-job-heartbeat");
        h.setDaemon(true);
        heartbeat = h;
        t.start();
        h.start();
    }

    String name() {
        return name;
    }

    JobService.State state() {
        return state;
    }

    void markStopping() {
        if (state == JobService.State.READY || state == JobService.State.LOADING) {
            state = JobService.State.STOPPING;
        }
    }

    Optional<String> failureReason() {
        return Optional.ofNullable(failureReason);
    }

    Optional<ImageGenerator> generator() {
        return Optional.ofNullable(generator);
    }

    Optional<Job> runningJob() {
        Running c = running;
        return c == null ? Optional.empty() : Optional.of(c.claim.job());
    }

    boolean alive() {
        Thread t = thread;
        return t != null && t.isAlive();
    }

    /** Takes no new job from now on (the running one goes on). */
    void stopClaiming() {
        claiming = false;
    }

    /**
     * Ends the worker: lets the running job finish within {@code grace}, then hands it back to the queue (a shared
     * queue lets another replica run it; the local queue cancels it), and closes the generator on its own thread.
     */
    void stop(Duration grace) {
        stopClaiming();
        stop = true;
        Thread t = thread;
        if (t == null) {
            state = JobService.State.STOPPED;
            return;
        }
        Running r = running;
        if (r != null) {
            LOG.infof("Shutdown: waiting up to %s for running job %s", grace, r.claim.job().id());
        }
        try {
            if (!stopped.await(Math.max(1, grace.toMillis()), TimeUnit.MILLISECONDS)) {
                Running still = running;
                if (still != null) {
                    LOG.warnf("Shutdown: job %s still running after %s; handing it back", still.claim.job().id(),
                            grace);
                    handBack(still);
                }
                if (!stopped.await(10, TimeUnit.SECONDS)) {
                    LOG.warn("Shutdown: the generation worker did not stop; leaving it behind");
                    return;
                }
            }
            t.join(5000); // the latch opens in the worker's last lines; let the thread end
            Thread h = heartbeat;
            if (h != null) {
                h.interrupt();
                h.join(2000);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void handBack(Running c) {
        c.handedBack = true;
        try {
            queue.handBack(c.claim, clock.getAsLong());
        } catch (RuntimeException e) {
            LOG.warnf("Handing back job %s failed (%s); its lease will expire instead", c.claim.job().id(),
                    e.getMessage());
        }
        if (!c.claim.job().cancelRequested()) {
            c.claim.job().requestCancel(clock.getAsLong()); // stop the model before its next step
        }
    }

    // ---------------------------------------------------------------- worker thread

    private void main() {
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
            if (state == JobService.State.LOADING) {
                state = JobService.State.READY;
            }
            LOG.infof("Model ready after %.1f s: %s (worker %s)", (System.nanoTime() - t0) / 1e9, modelDescription,
                    name);
        } catch (Throwable t) {
            failureReason = Failures.describe(t);
            state = JobService.State.FAILED;
            LOG.errorf(t, "The model could not be loaded (%s): %s", modelDescription, failureReason);
            if (gen != null) {
                closeQuietly(gen);
                gen = null;
            }
        }
        try {
            while (!stop) {
                Optional<JobQueue.Claim> claim = Optional.empty();
                try {
                    if (gen == null || !claiming) {
                        Thread.sleep(CLAIM_WAIT.toMillis());
                    } else {
                        claim = queue.claim(name, CLAIM_WAIT, clock);
                    }
                } catch (InterruptedException e) {
                    if (stop) {
                        break;
                    }
                } catch (RuntimeException e) {
                    storeTrouble("claiming a job", e);
                    sleepQuietly(STORE_RETRY_MILLIS);
                }
                if (claim.isPresent()) {
                    runJob(gen, new Running(claim.get()));
                }
                maybeEvict();
            }
        } finally {
            generator = null;
            if (gen != null) {
                closeQuietly(gen);
            }
            state = JobService.State.STOPPED;
            stopped.countDown();
            LOG.info("Generation worker stopped");
        }
    }

    private void runJob(ImageGenerator gen, Running c) {
        long startNanos = System.nanoTime();
        Job job = c.claim.job();
        running = c;
        long waitNanos = job.enqueuedNanos() != 0 ? startNanos - job.enqueuedNanos()
                : (clock.getAsLong() - job.createdAtMillis()) * 1_000_000L;
        metrics.record(metrics.queueWait, waitNanos);
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
                job.setGrid(ExperimentGrid.compose(job));
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
            errorType = Failures.isOutOfMemory(e) ? "out_of_memory" : "engine_error";
            error = Failures.describe(e);
        } catch (OutOfMemoryError e) {
            errorType = "out_of_memory";
            error = "the JVM ran out of memory: " + e.getMessage();
        } catch (Throwable t) {
            errorType = Failures.isOutOfMemory(t) ? "out_of_memory" : "internal_error";
            error = Failures.describe(t);
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
            if (!c.handedBack) {
                metrics.finished(outcome);
            }
            job.finish(outcome, errorType, error, clock.getAsLong());
            if (!c.handedBack) {
                complete(c);
            }
            running = null;
        }
    }

    private void complete(Running c) {
        for (int tries = 0; ; tries++) {
            try {
                if (!queue.complete(c.claim, clock.getAsLong())) {
                    LOG.warnf("Job %s attempt %d: the lease was lost (another worker took the job over); "
                            + "this result is dropped", c.claim.job().id(), c.claim.attempt());
                }
                return;
            } catch (RuntimeException e) {
                // the store is down: keep the result a while (the lease then lapses and the job runs again)
                storeTrouble("storing the result of job " + c.claim.job().id(), e);
                if (tries >= 10 || stop) {
                    return;
                }
                sleepQuietly(STORE_RETRY_MILLIS);
            }
        }
    }

    /** Lets the service drop expired jobs (it throttles, and shares the throttle with the HTTP side). */
    private void maybeEvict() {
        try {
            evictor.run();
        } catch (RuntimeException e) {
            storeTrouble("evicting finished jobs", e);
        }
    }

    // ---------------------------------------------------------------- heartbeat thread

    private void heartbeatMain() {
        while (!Thread.currentThread().isInterrupted() && stopped.getCount() > 0) {
            try {
                Thread.sleep(Math.max(10, heartbeatEvery.toMillis()));
            } catch (InterruptedException e) {
                return;
            }
            Running c = running;
            if (c == null || c.handedBack) {
                continue;
            }
            try {
                JobQueue.Lease lease = queue.heartbeat(c.claim, clock.getAsLong());
                if (lease != JobQueue.Lease.HELD && !c.claim.job().cancelRequested()) {
                    if (lease == JobQueue.Lease.LOST) {
                        LOG.warnf("Job %s: lease lost; stopping this attempt", c.claim.job().id());
                    }
                    c.claim.job().requestCancel(clock.getAsLong());
                }
            } catch (RuntimeException e) {
                storeTrouble("renewing the lease of job " + c.claim.job().id(), e);
            }
        }
    }

    /** Logs store trouble at most every 10 s (a Redis outage would otherwise flood the log). */
    private void storeTrouble(String what, RuntimeException e) {
        long now = System.currentTimeMillis();
        if (now - lastStoreWarning > 10_000) {
            lastStoreWarning = now;
            LOG.warnf("Job store unavailable while %s: %s", what, Failures.describe(e));
        }
    }

    private static void sleepQuietly(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
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
        public int previewEvery() {
            return job.tasks().get(task).previewEvery();
        }

        @Override
        public void onPreview(int image, int step, int totalSteps, dev.sdcfg.pipeline.LatentPreview.Image preview) {
            job.onPreview(task, image, preview.width(), preview.height(), preview.png());
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
