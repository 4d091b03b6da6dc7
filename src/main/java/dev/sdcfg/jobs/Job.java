package dev.sdcfg.jobs;

import dev.sdcfg.pipeline.GeneratedImage;
import dev.sdcfg.pipeline.GenerationRequest;
import dev.sdcfg.pipeline.GenerationResult;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * One job: its tasks, state, progress and results. State changes happen under the job's monitor; the worker
 * thread writes, HTTP threads read {@link #snapshot()}. Images are PNG bytes (no NDArrays ever live here).
 *
 * <p>In memory mode the queue hands out the live object. A shared queue ({@link RedisJobQueue}) gives the worker a
 * local working copy and gives readers a {@linkplain #frozen frozen} job: a snapshot read from the store, whose
 * images are fetched through the queue ({@link JobQueue#image}).
 */
public final class Job {

    /** What a cancel request did. */
    public enum CancelOutcome {
        /** The job was waiting: it is canceled now. */
        CANCELED,
        /** The job is running: it stops before its next denoising step. */
        CANCEL_REQUESTED,
        /** The job had already finished: nothing to cancel. */
        ALREADY_FINISHED
    }

    /**
     * The latest live preview of a running job: after global step {@code step} of {@code total} (the progress
     * counter's scale), of image {@code image} of generation {@code generation}; a latent-sized PNG.
     */
    public record Preview(int step, int total, int generation, int image, int width, int height, byte[] png) {
    }

    /** A finished image as listed in job views. */
    public record ImageInfo(int index, long seed, int width, int height, String label) {
    }

    /**
     * An immutable, consistent view of a job for the HTTP layer. {@code attempt} counts the runs a job started (a
     * job taken over after its worker died runs again with the same seeds); {@code worker} names the replica that
     * ran (or runs) the last attempt.
     */
    public record Snapshot(String id, JobKind kind, JobStatus status, long createdAtMillis, Long startedAtMillis,
                           Long finishedAtMillis, int stepsDone, int stepsTotal, int tasksDone, int tasksTotal,
                           boolean cancelRequested, List<Long> seeds, List<String> warnings,
                           Map<String, Double> timings, String errorType, String errorMessage,
                           List<ImageInfo> images, boolean hasGrid, int attempt, String worker) {
    }

    private final String id;
    private final JobKind kind;
    private final List<JobTask> tasks;
    private final int gridColumns;
    private final long createdAtMillis;
    private final long enqueuedNanos;
    private final CompletableFuture<Job> done = new CompletableFuture<>();
    private volatile boolean cancelRequested;
    /** Non-null for a job read back from a shared store: its state is this snapshot and never changes. */
    private final Snapshot frozen;

    // guarded by this
    private JobStatus status = JobStatus.QUEUED;
    private long startedAtMillis;
    private long finishedAtMillis;
    private final int[] taskTotals;
    private int stepsInFinishedTasks;
    private int currentTask = -1;
    private int[] currentImageSteps = new int[0];
    private int tasksDone;
    private final List<GeneratedImage> images = new ArrayList<>();
    private final List<String> imageLabels = new ArrayList<>();
    private byte[] grid;
    private final List<String> warnings = new ArrayList<>();
    private final Map<String, Double> timings = new LinkedHashMap<>();
    private String errorType;
    private String errorMessage;
    private int attempt;
    private String worker;
    private Preview preview;
    private boolean previewPublished = true;

    Job(String id, JobKind kind, List<JobTask> tasks, int gridColumns, long createdAtMillis, long enqueuedNanos) {
        this(id, kind, tasks, gridColumns, createdAtMillis, enqueuedNanos, null);
    }

    private Job(String id, JobKind kind, List<JobTask> tasks, int gridColumns, long createdAtMillis,
                long enqueuedNanos, Snapshot frozen) {
        if (tasks.isEmpty()) {
            throw new IllegalArgumentException("a job needs at least one task");
        }
        this.id = id;
        this.kind = kind;
        this.tasks = List.copyOf(tasks);
        this.gridColumns = gridColumns;
        this.createdAtMillis = createdAtMillis;
        this.enqueuedNanos = enqueuedNanos;
        this.frozen = frozen;
        this.taskTotals = new int[tasks.size()];
        for (int i = 0; i < tasks.size(); i++) {
            GenerationRequest r = tasks.get(i).request();
            taskTotals[i] = r.n() * r.stepsRun(); // the sampler's own count still wins once it reports
        }
        if (frozen != null) {
            status = frozen.status();
            cancelRequested = frozen.cancelRequested();
            if (status.isFinal()) {
                done.complete(this);
            }
        }
    }

    /** A read-only job as a shared store holds it: {@link #snapshot()} is {@code state}; images come from the store. */
    static Job frozen(Snapshot state, List<JobTask> tasks, int gridColumns) {
        return new Job(state.id(), state.kind(), tasks, gridColumns, state.createdAtMillis(), 0, state);
    }

    /** True for a job read back from a shared store (see {@link #frozen}). */
    boolean isFrozen() {
        return frozen != null;
    }

    public String id() {
        return id;
    }

    public JobKind kind() {
        return kind;
    }

    public List<JobTask> tasks() {
        return tasks;
    }

    public int gridColumns() {
        return gridColumns;
    }

    /** System.nanoTime() at submission in this process; 0 for a job submitted elsewhere (a shared queue). */
    long enqueuedNanos() {
        return enqueuedNanos;
    }

    long createdAtMillis() {
        return createdAtMillis;
    }

    public boolean cancelRequested() {
        return cancelRequested;
    }

    public synchronized JobStatus status() {
        return status;
    }

    /** Completes when the job reaches a final status. */
    public CompletableFuture<Job> completion() {
        return done.copy();
    }

    /** Waits up to {@code timeout} for the job to finish; true when it did. */
    public boolean await(Duration timeout) throws InterruptedException {
        try {
            done.get(Math.max(0, timeout.toMillis()), TimeUnit.MILLISECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (ExecutionException e) {
            return true;
        }
    }

    /** Seeds the job uses: seed + i for the n images of a generation, one (shared) seed per experiment spec. */
    public List<Long> plannedSeeds() {
        List<Long> seeds = new ArrayList<>();
        for (JobTask t : tasks) {
            for (int i = 0; i < t.request().n(); i++) {
                seeds.add(t.request().seed() + i);
            }
        }
        return seeds;
    }

    /** Image {@code index} once the job has succeeded. */
    public synchronized Optional<GeneratedImage> image(int index) {
        if (status != JobStatus.SUCCEEDED || index < 0 || index >= images.size()) {
            return Optional.empty();
        }
        return Optional.of(images.get(index));
    }

    public synchronized List<GeneratedImage> images() {
        return status == JobStatus.SUCCEEDED ? List.copyOf(images) : List.of();
    }

    /** The titled grid PNG of a succeeded experiment. */
    public synchronized Optional<byte[]> grid() {
        return status == JobStatus.SUCCEEDED ? Optional.ofNullable(grid) : Optional.empty();
    }

    public synchronized Snapshot snapshot() {
        if (frozen != null) {
            return frozen;
        }
        int total = stepsTotal();
        int stepsDone = status == JobStatus.SUCCEEDED ? total : stepsDoneNow();
        List<ImageInfo> infos = new ArrayList<>();
        if (status == JobStatus.SUCCEEDED) {
            for (int i = 0; i < images.size(); i++) {
                GeneratedImage g = images.get(i);
                infos.add(new ImageInfo(i, g.seed(), g.width(), g.height(), imageLabels.get(i)));
            }
        }
        return new Snapshot(id, kind, status, createdAtMillis, startedAtMillis == 0 ? null : startedAtMillis,
                finishedAtMillis == 0 ? null : finishedAtMillis, stepsDone, total, tasksDone, tasks.size(),
                cancelRequested, plannedSeeds(), List.copyOf(warnings),
                Collections.unmodifiableMap(new LinkedHashMap<>(timings)), errorType, errorMessage, infos,
                status == JobStatus.SUCCEEDED && grid != null, attempt, worker);
    }

    /** Steps over the whole job (guarded by this). */
    private int stepsTotal() {
        int total = 0;
        for (int t : taskTotals) {
            total += t;
        }
        return total;
    }

    /** Steps done so far: finished tasks plus the running task's images (guarded by this). */
    private int stepsDoneNow() {
        int current = 0;
        for (int s : currentImageSteps) {
            current += s;
        }
        return Math.min(stepsTotal(), stepsInFinishedTasks + current);
    }

    synchronized long finishedAtMillis() {
        return finishedAtMillis;
    }

    synchronized boolean isFinal() {
        return status.isFinal();
    }

    // ---- transitions (worker thread, or the service for queued jobs) ----

    /** queued → running as attempt {@code attempt} on {@code worker}; false when it was canceled while it waited. */
    synchronized boolean start(long nowMillis, int attempt, String worker) {
        if (status != JobStatus.QUEUED || frozen != null) {
            return false;
        }
        status = JobStatus.RUNNING;
        this.attempt = attempt;
        this.worker = worker;
        startedAtMillis = nowMillis;
        timings.put("queue_wait_ms", (double) (nowMillis - createdAtMillis));
        return true;
    }

    /** Cancel from the API: queued jobs end now, running jobs are flagged for the worker. */
    synchronized CancelOutcome requestCancel(long nowMillis) {
        if (frozen != null) {
            throw new IllegalStateException("a frozen job is canceled through its queue");
        }
        switch (status) {
            case QUEUED:
                cancelRequested = true;
                finish(JobStatus.CANCELED, "canceled", "canceled before it started", nowMillis);
                return CancelOutcome.CANCELED;
            case RUNNING:
                cancelRequested = true;
                return CancelOutcome.CANCEL_REQUESTED;
            default:
                return CancelOutcome.ALREADY_FINISHED;
        }
    }

    synchronized void onStep(int task, int image, int step, int totalSteps) {
        if (task != currentTask) {
            return;
        }
        int n = currentImageSteps.length;
        if (image < 0 || image >= n) {
            return;
        }
        if (totalSteps > 0 && totalSteps * n != taskTotals[task]) {
            taskTotals[task] = totalSteps * n; // the sampler's own count (e.g. steps + warm-up) wins
        }
        currentImageSteps[image] = Math.max(currentImageSteps[image], Math.min(step + 1, Math.max(totalSteps, 1)));
    }

    /** Records the latest preview of the running task (worker thread; right after its step was counted). */
    synchronized void onPreview(int task, int image, int width, int height, byte[] png) {
        if (task != currentTask || frozen != null) {
            return;
        }
        preview = new Preview(stepsDoneNow(), stepsTotal(), task, image, width, height, png);
        previewPublished = false;
    }

    /** True when any task asked for previews. */
    public boolean wantsPreviews() {
        for (JobTask t : tasks) {
            if (t.previewEvery() > 0) {
                return true;
            }
        }
        return false;
    }

    /** The latest preview of this (live) job; empty for none and for a job read back from a shared store. */
    public synchronized Optional<Preview> latestPreview() {
        return Optional.ofNullable(preview);
    }

    /** The latest preview if it was not handed out by this method before (a shared store publishes it once). */
    synchronized Optional<Preview> takeUnpublishedPreview() {
        if (previewPublished || preview == null) {
            return Optional.empty();
        }
        previewPublished = true;
        return Optional.of(preview);
    }

    synchronized void beginTask(int task) {
        currentTask = task;
        currentImageSteps = new int[tasks.get(task).request().n()];
    }

    synchronized void addResult(int task, GenerationResult result) {
        String label = tasks.get(task).label();
        for (GeneratedImage g : result.images()) {
            images.add(g);
            imageLabels.add(label);
        }
        if (result.warnings() != null) {
            for (String w : result.warnings()) {
                String text = tasks.size() > 1 && label != null ? "[" + label + "] " + w : w;
                if (!warnings.contains(text)) {
                    warnings.add(text);
                }
            }
        }
        if (result.timings() != null) {
            result.timings().forEach((k, v) -> {
                if (v != null) {
                    timings.merge(k + "_ms", v, Double::sum);
                }
            });
        }
        stepsInFinishedTasks += taskTotals[task];
        currentImageSteps = new int[0];
        currentTask = -1;
        tasksDone++;
    }

    /** Images produced so far (the worker composes the grid from them before the job succeeds). */
    synchronized List<GeneratedImage> imagesForGrid() {
        return List.copyOf(images);
    }

    synchronized String labelOf(int imageIndex) {
        return imageLabels.get(imageIndex);
    }

    synchronized void setGrid(byte[] png) {
        grid = png;
    }

    /** Ends the job (idempotent: the first final status wins) and completes {@link #completion()}. */
    synchronized boolean finish(JobStatus finalStatus, String type, String message, long nowMillis) {
        if (status.isFinal() || frozen != null) {
            return false;
        }
        if (!finalStatus.isFinal()) {
            throw new IllegalArgumentException("not a final status: " + finalStatus);
        }
        status = finalStatus;
        errorType = type;
        errorMessage = message;
        finishedAtMillis = nowMillis;
        if (startedAtMillis != 0) {
            timings.put("run_ms", (double) (nowMillis - startedAtMillis));
        }
        done.complete(this);
        return true;
    }
}
