package dev.sdcfg.jobs;

import io.vertx.mutiny.redis.client.Command;
import io.vertx.mutiny.redis.client.Redis;
import io.vertx.mutiny.redis.client.RedisConnection;
import io.vertx.mutiny.redis.client.Request;
import io.vertx.mutiny.redis.client.Response;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.UUID;
import java.util.function.LongSupplier;

/**
 * The shared, durable {@link JobQueue} on Redis (Redis mode: {@code quarkus.redis.hosts} is set). Any replica
 * answers for any job; a job survives the replica that accepted it and the one that ran it.
 *
 * <p>Layout (prefix {@code sd:} by default):
 * <ul>
 *   <li>{@code queue} — a stream of job ids with the consumer group {@code workers}. A worker reads one entry only
 *   when its model is idle; the entry stays pending (in the group's PEL) while the job runs, and its idle time is
 *   the lease: the heartbeat resets it, and an entry idle longer than {@code sd.queue.lease} is taken over by the
 *   next idle worker ({@code XAUTOCLAIM}) — the reliable-fetch pattern of Sidekiq Pro and BullMQ's stalled check;</li>
 *   <li>{@code job:<id>} — a hash: request, status, progress, attempt, crashes, worker, error, result; it expires
 *   {@code sd.jobs.ttl} after the job ends (never while queued or running);</li>
 *   <li>{@code job:<id>:img:<i>}, {@code job:<id>:grid} — the PNGs, with the same expiry;</li>
 *   <li>{@code queued} — a sorted set of waiting job ids by submission order: the global capacity check, the
 *   queue depth and queue positions;</li>
 *   <li>{@code idem:<key>} — an Idempotency-Key: the request digest and the job id, for 24 h;</li>
 *   <li>channels {@code events} (a job ended) and {@code cancel} (a running job should stop).</li>
 * </ul>
 * Every read-then-write step is a Lua script ({@link RedisScripts}). Requires Redis 6.2+ ({@code XAUTOCLAIM}); a
 * single instance (the scripts name keys they derive, so not Redis Cluster).
 */
public final class RedisJobQueue implements JobQueue {

    private static final Logger LOG = Logger.getLogger(RedisJobQueue.class);
    private static final String GROUP = "workers";
    /** Waiting reads poll at this interval; a message on the events channel wakes them sooner. */
    private static final long POLL_MILLIS = 250;

    private final Redis redis;
    private final JobSettings settings;
    private final Duration lease;
    private final int maxCrashes;
    private final Duration timeout;
    private final String prefix;
    private final String stream;
    private final String queued;
    private final String seq;
    private final String events;
    private final String cancelChannel;
    private volatile boolean groupReady;
    private final List<java.util.function.Consumer<String>> cancelListeners =
            new java.util.concurrent.CopyOnWriteArrayList<>();
    /** Notified on every job end announced on the events channel (awaitFinal waits on it). */
    private final Object ended = new Object();
    private volatile RedisConnection subscriber;
    private long lastSubscribeAttempt;

    /**
     * @param redis      a client of the shared Redis (pooled; blocking calls are made from worker threads only)
     * @param lease      how long a running job may go without a heartbeat before another replica takes it over
     * @param maxCrashes runs of one job that may end with a dead worker before the job is failed
     * @param timeout    how long one Redis call may take before the store counts as unavailable
     * @param prefix     key prefix, e.g. "sd:"
     */
    public RedisJobQueue(Redis redis, JobSettings settings, Duration lease, int maxCrashes, Duration timeout,
                         String prefix) {
        this.redis = redis;
        this.settings = settings;
        this.lease = lease;
        this.maxCrashes = maxCrashes;
        this.timeout = timeout;
        this.prefix = prefix;
        this.stream = prefix + "queue";
        this.queued = prefix + "queued";
        this.seq = prefix + "seq";
        this.events = prefix + "events";
        this.cancelChannel = prefix + "cancel";
    }

    String jobKey(String id) {
        return prefix + "job:" + id;
    }

    private String imageKey(String id, int i) {
        return jobKey(id) + ":img:" + i;
    }

    private String gridKey(String id) {
        return jobKey(id) + ":grid";
    }

    /** The latest preview of a job (JSON with a base64 PNG), written on heartbeats; it expires after sd.jobs.ttl. */
    private String previewKey(String id) {
        return jobKey(id) + ":preview";
    }

    /** The channel on which a replica hears that a running job should stop (see {@link #cancel}). */
    public String cancelChannel() {
        return cancelChannel;
    }

    /** The channel on which every job end is announced (its id). */
    public String eventsChannel() {
        return events;
    }

    // ---------------------------------------------------------------- HTTP side

    @Override
    public Job submit(Submission s, long nowMillis) {
        String id = UUID.randomUUID().toString();
        int stepsTotal = 0;
        for (JobTask t : s.tasks()) {
            stepsTotal += t.request().n() * t.request().stepsRun();
        }
        Idempotency idem = s.idempotency();
        String idemKey = idem == null ? prefix + "idem:-" : prefix + "idem:" + idem.key();
        String idemValue = idem == null ? "" : idem.requestDigest() + " " + id;
        Response r = eval(RedisScripts.SUBMIT, List.of(jobKey(id), queued, stream, seq, idemKey),
                List.of(id, Integer.toString(settings.queueCapacity()), s.kind().name(),
                        Integer.toString(s.gridColumns()), JobCodec.tasks(s.tasks()), Long.toString(nowMillis),
                        Integer.toString(stepsTotal), idemValue,
                        Long.toString(MemoryJobQueue.IDEMPOTENCY_TTL.toMillis()), prefix + "job:"));
        String verdict = r.get(0).toString();
        switch (verdict) {
            case "full":
                throw new QueueFullException(settings.queueCapacity(), 0);
            case "conflict":
                throw new IdempotencyConflictException(r.get(1).toString());
            case "same":
                return find(r.get(1).toString()).orElseThrow(() -> new IllegalStateException("idempotent job vanished"));
            default:
                return find(id).orElseThrow(() -> new IllegalStateException("submitted job vanished"));
        }
    }

    @Override
    public Optional<Job> find(String id) {
        Response h = call(Request.cmd(Command.HGETALL).arg(jobKey(id)));
        if (h == null || h.size() == 0) {
            return Optional.empty();
        }
        Map<String, String> f = new HashMap<>();
        for (String k : h.getKeys()) {
            Response v = h.get(k);
            f.put(k, v == null ? null : v.toString());
        }
        if (!f.containsKey("tasks") || !f.containsKey("status")) {
            return Optional.empty(); // a hash left by a progress write after expiry
        }
        return Optional.of(restore(id, f));
    }

    private static Job restore(String id, Map<String, String> f) {
        List<JobTask> tasks = JobCodec.tasks(f.get("tasks"));
        JobCodec.Result result = JobCodec.result(f.get("result"));
        JobStatus status = JobStatus.valueOf(f.get("status").toUpperCase(java.util.Locale.ROOT));
        List<Long> seeds = new ArrayList<>();
        for (JobTask t : tasks) {
            for (int i = 0; i < t.request().n(); i++) {
                seeds.add(t.request().seed() + i);
            }
        }
        int stepsTotal = intOf(f.get("steps_total"));
        int stepsDone = status == JobStatus.SUCCEEDED ? stepsTotal : Math.min(stepsTotal, intOf(f.get("steps_done")));
        Job.Snapshot s = new Job.Snapshot(id, JobKind.valueOf(f.get("kind")), status, longOf(f.get("created")),
                nullableLong(f.get("started")), status.isFinal() ? nullableLong(f.get("finished")) : null, stepsDone,
                stepsTotal, intOf(f.get("tasks_done")), tasks.size(), "1".equals(f.get("cancel")), seeds,
                result.warnings(), result.timings(), emptyToNull(f.get("error_type")), emptyToNull(f.get("error")),
                status == JobStatus.SUCCEEDED ? result.images() : List.of(),
                status == JobStatus.SUCCEEDED && result.hasGrid(), intOf(f.get("attempt")),
                emptyToNull(f.get("worker")));
        return Job.frozen(s, tasks, intOf(f.get("columns")));
    }

    @Override
    public Optional<byte[]> image(String id, int index) {
        return bytes(imageKey(id, index));
    }

    @Override
    public Optional<byte[]> grid(String id) {
        return bytes(gridKey(id));
    }

    private Optional<byte[]> bytes(String key) {
        Response r = call(Request.cmd(Command.GET).arg(key));
        return r == null ? Optional.empty() : Optional.of(r.toBytes());
    }

    @Override
    public Optional<Job.Preview> preview(String id) {
        Response r = call(Request.cmd(Command.GET).arg(previewKey(id)));
        return r == null ? Optional.empty() : Optional.of(JobCodec.preview(r.toString()));
    }

    /**
     * Writes the worker's latest preview if it is new (heartbeat thread, before the progress it belongs to, so a
     * reader that sees the progress finds the preview): one SET with expiry per heartbeat that has a new preview,
     * whatever preview_every is; a small value (a latent-sized PNG), overwritten, so the store holds one per job.
     */
    private void publishPreview(Job job) {
        job.takeUnpublishedPreview().ifPresent(p -> call(Request.cmd(Command.SET).arg(previewKey(job.id()))
                .arg(JobCodec.preview(p)).arg("PX").arg(Long.toString(settings.ttl().toMillis()))));
    }

    @Override
    public Optional<Job.CancelOutcome> cancel(String id, long nowMillis) {
        Response r = eval(RedisScripts.CANCEL, List.of(jobKey(id), queued),
                List.of(Long.toString(nowMillis), Long.toString(settings.ttl().toMillis()), id, events, cancelChannel));
        switch (r.toString()) {
            case "canceled":
                return Optional.of(Job.CancelOutcome.CANCELED);
            case "requested":
                return Optional.of(Job.CancelOutcome.CANCEL_REQUESTED);
            case "finished":
                return Optional.of(Job.CancelOutcome.ALREADY_FINISHED);
            default:
                return Optional.empty();
        }
    }

    @Override
    public boolean delete(String id) {
        Response r = eval(RedisScripts.DELETE, List.of(jobKey(id), gridKey(id)), List.of(jobKey(id) + ":img:"));
        if (r.toInteger() == 1) {
            call(Request.cmd(Command.DEL).arg(previewKey(id)));
            return true;
        }
        return false;
    }

    @Override
    public OptionalInt queuePosition(String id) {
        Response r = call(Request.cmd(Command.ZRANK).arg(queued).arg(id));
        return r == null ? OptionalInt.empty() : OptionalInt.of(r.toInteger() + 1);
    }

    @Override
    public int depth() {
        Response r = call(Request.cmd(Command.ZCARD).arg(queued));
        return r == null ? 0 : r.toInteger();
    }

    @Override
    public int retained() {
        return -1; // jobs expire by key TTL; counting them would need a scan
    }

    /** Waits for the job's end: woken by the events channel, polling as the fallback (the job may run anywhere). */
    @Override
    public Optional<Job> awaitFinal(Job job, Duration timeout) throws InterruptedException {
        ensureSubscribed();
        long deadline = System.nanoTime() + Math.max(0, timeout.toNanos());
        Optional<Job> latest = Optional.of(job);
        while (latest.isPresent() && !latest.get().status().isFinal()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                break;
            }
            synchronized (ended) {
                ended.wait(Math.min(POLL_MILLIS, Math.max(1, left / 1_000_000)));
            }
            latest = find(job.id());
        }
        return latest;
    }

    @Override
    public void onCancelRequested(java.util.function.Consumer<String> listener) {
        cancelListeners.add(listener);
    }

    /**
     * Subscribes to the events and cancel channels on a connection of its own (best effort, at most once a second:
     * heartbeats and polling do the same work more slowly while there is no subscription).
     */
    private void ensureSubscribed() {
        if (subscriber != null) {
            return;
        }
        synchronized (this) {
            long now = System.currentTimeMillis();
            if (subscriber != null || now - lastSubscribeAttempt < 1000) {
                return;
            }
            lastSubscribeAttempt = now;
            RedisConnection c = null;
            try {
                c = redis.connect().await().atMost(timeout);
                RedisConnection conn = c;
                c.handler(this::onMessage);
                c.exceptionHandler(e -> dropSubscriber(conn));
                c.endHandler(() -> dropSubscriber(conn));
                c.send(Request.cmd(Command.SUBSCRIBE).arg(events).arg(cancelChannel)).await().atMost(timeout);
                subscriber = c;
            } catch (RuntimeException e) {
                LOG.debugf("Subscribing to %s failed: %s", events, e.getMessage());
                if (c != null) {
                    c.closeAndForget();
                }
            }
        }
    }

    private void dropSubscriber(RedisConnection c) {
        if (subscriber == c) {
            subscriber = null;
        }
        c.closeAndForget();
    }

    /** A pub/sub push: ["message", channel, job id]. */
    private void onMessage(Response m) {
        if (m == null || m.size() < 3 || !"message".equals(m.get(0).toString())) {
            return;
        }
        String channel = m.get(1).toString();
        String id = m.get(2).toString();
        if (channel.equals(cancelChannel)) {
            for (java.util.function.Consumer<String> l : cancelListeners) {
                l.accept(id);
            }
        } else if (channel.equals(events)) {
            synchronized (ended) {
                ended.notifyAll();
            }
        }
    }

    // ---------------------------------------------------------------- worker side

    @Override
    public Optional<Claim> claim(String worker, Duration wait, LongSupplier clock) throws InterruptedException {
        ensureSubscribed();
        ensureGroup();
        try {
            return claimStarted(worker, wait, clock);
        } catch (QueueUnavailableException e) {
            if (String.valueOf(e.getMessage()).contains("NOGROUP")) {
                groupReady = false; // the stream was lost (a Redis without persistence restarted): make it again
            }
            throw e;
        }
    }

    private Optional<Claim> claimStarted(String worker, Duration wait, LongSupplier clock) {
        // 1. a job whose worker stopped renewing its lease (crash, SIGKILL, hand-back at shutdown)
        Response auto = call(Request.cmd(Command.XAUTOCLAIM).arg(stream).arg(GROUP).arg(worker)
                .arg(lease.toMillis()).arg("0-0").arg("COUNT").arg(1));
        Optional<String[]> entry = firstEntry(auto == null ? null : auto.get(1));
        if (entry.isEmpty()) {
            // 2. the next new job; the read blocks up to `wait` so an idle worker takes a new job at once
            Response read = call(Request.cmd(Command.XREADGROUP).arg("GROUP").arg(GROUP).arg(worker).arg("COUNT")
                    .arg(1).arg("BLOCK").arg(Math.max(1, wait.toMillis())).arg("STREAMS").arg(stream).arg(">"),
                    timeout.plus(wait));
            if (read != null && read.size() > 0) {
                // RESP3 (the client's default with Redis 6+) answers a map stream -> entries; RESP2 a list of pairs
                entry = firstEntry(read.isMap() ? read.get(stream) : read.get(0).get(1));
            }
        }
        if (entry.isEmpty()) {
            return Optional.empty();
        }
        String entryId = entry.get()[0];
        String id = entry.get()[1];
        long nowMillis = clock.getAsLong();
        if (id == null) {
            call(Request.cmd(Command.XACK).arg(stream).arg(GROUP).arg(entryId));
            return Optional.empty();
        }
        Response started = eval(RedisScripts.START, List.of(jobKey(id), queued, stream),
                List.of(entryId, worker, Long.toString(nowMillis), Integer.toString(maxCrashes),
                        Long.toString(settings.ttl().toMillis()), id, events));
        if (!"run".equals(started.get(0).toString())) {
            return Optional.empty();
        }
        int attempt = started.get(1).toInteger();
        Optional<Job> stored = find(id);
        if (stored.isEmpty()) {
            return Optional.empty();
        }
        Job.Snapshot s = stored.get().snapshot();
        // the worker's own working object: progress and results go here, then to Redis by heartbeat and complete
        Job local = new Job(id, s.kind(), stored.get().tasks(), stored.get().gridColumns(), s.createdAtMillis(), 0);
        local.start(nowMillis, attempt, worker);
        if (attempt > 1) {
            LOG.infof("Job %s: attempt %d on %s (taken over)", id, attempt, worker);
        }
        return Optional.of(new Claim(local, attempt, worker, entryId));
    }

    /** {entry id, job id} of the first entry of an XREADGROUP/XAUTOCLAIM entry list (job id null: deleted). */
    private static Optional<String[]> firstEntry(Response entries) {
        if (entries == null || entries.size() == 0) {
            return Optional.empty();
        }
        Response e = entries.get(0);
        if (e == null) {
            return Optional.empty();
        }
        String entryId = e.get(0).toString();
        Response fields = e.size() > 1 ? e.get(1) : null;
        String id = null;
        if (fields != null) {
            for (int i = 0; i + 1 < fields.size(); i += 2) {
                if ("id".equals(fields.get(i).toString())) {
                    id = fields.get(i + 1).toString();
                }
            }
        }
        return Optional.of(new String[] {entryId, id});
    }

    @Override
    public Lease heartbeat(Claim claim, long nowMillis) {
        Job.Snapshot s = claim.job().snapshot();
        publishPreview(claim.job());
        Response r = eval(RedisScripts.HEARTBEAT, List.of(jobKey(claim.job().id()), stream),
                List.of(claim.worker(), Integer.toString(claim.attempt()), claim.token(),
                        Integer.toString(s.stepsDone()), Integer.toString(s.stepsTotal()),
                        Integer.toString(s.tasksDone()), Long.toString(nowMillis + lease.toMillis())));
        switch (r.toString()) {
            case "held":
                return Lease.HELD;
            case "cancel":
                return Lease.CANCEL;
            default:
                return Lease.LOST;
        }
    }

    @Override
    public boolean complete(Claim claim, long nowMillis) {
        Job job = claim.job();
        Job.Snapshot s = job.snapshot();
        String id = job.id();
        publishPreview(job); // one made since the last heartbeat
        List<String> keys = new ArrayList<>(List.of(jobKey(id), stream, gridKey(id)));
        List<Object> args = new ArrayList<>(List.of(claim.worker(), Integer.toString(claim.attempt()), claim.token(),
                s.status().wire(), nz(s.errorType()), nz(s.errorMessage()),
                Long.toString(s.finishedAtMillis() == null ? nowMillis : s.finishedAtMillis()),
                Long.toString(settings.ttl().toMillis()), JobCodec.result(s), Integer.toString(s.stepsDone()),
                Integer.toString(s.stepsTotal()), Integer.toString(s.tasksDone()), events, id));
        Optional<byte[]> grid = job.grid();
        args.add(grid.isPresent() ? "1" : "0");
        grid.ifPresent(args::add);
        List<dev.sdcfg.pipeline.GeneratedImage> images = job.images();
        for (int i = 0; i < images.size(); i++) {
            keys.add(imageKey(id, i));
            args.add(images.get(i).png());
        }
        return eval(RedisScripts.COMPLETE, keys, args).toInteger() == 1;
    }

    @Override
    public void handBack(Claim claim, long nowMillis) {
        eval(RedisScripts.HAND_BACK, List.of(jobKey(claim.job().id()), queued, stream),
                List.of(claim.worker(), Integer.toString(claim.attempt()), claim.token(), claim.job().id(),
                        Long.toString(lease.toMillis() * 10 + 1000)));
    }

    @Override
    public List<Job> stopAccepting(long nowMillis) {
        return List.of(); // queued jobs stay in Redis for the other replicas (or the next one to start)
    }

    @Override
    public boolean durable() {
        return true;
    }

    @Override
    public void close() {
        RedisConnection c = subscriber;
        subscriber = null;
        if (c != null) {
            c.closeAndForget();
        }
    }

    @Override
    public void evict(long nowMillis) {
        // finished jobs expire by their keys' TTL (sd.jobs.ttl); sd.jobs.max-retained does not apply here
    }

    // ---------------------------------------------------------------- plumbing

    private void ensureGroup() {
        if (groupReady) {
            return;
        }
        try {
            call(Request.cmd(Command.XGROUP).arg("CREATE").arg(stream).arg(GROUP).arg("0").arg("MKSTREAM"));
        } catch (QueueUnavailableException e) {
            if (e.getCause() == null || e.getCause().getMessage() == null
                    || !e.getCause().getMessage().contains("BUSYGROUP")) {
                throw e;
            }
        }
        groupReady = true;
    }

    private Response eval(RedisScripts.Script script, List<String> keys, List<?> args) {
        try {
            return call(evalRequest(Command.EVALSHA, script.sha(), keys, args));
        } catch (QueueUnavailableException e) {
            Throwable c = e.getCause();
            if (c != null && c.getMessage() != null && c.getMessage().startsWith("NOSCRIPT")) {
                return call(evalRequest(Command.EVAL, script.source(), keys, args));
            }
            throw e;
        }
    }

    private static Request evalRequest(Command cmd, String script, List<String> keys, List<?> args) {
        Request req = Request.cmd(cmd).arg(script).arg(keys.size());
        for (String k : keys) {
            req.arg(k);
        }
        for (Object a : args) {
            if (a instanceof byte[] b) {
                req.arg(b);
            } else {
                req.arg(String.valueOf(a));
            }
        }
        return req;
    }

    private Response call(Request request) {
        return call(request, timeout);
    }

    /** One Redis round trip; any failure (refused, timed out, an error reply) is a {@link QueueUnavailableException}. */
    private Response call(Request request, Duration limit) {
        try {
            return redis.send(request).await().atMost(limit);
        } catch (RuntimeException e) {
            throw new QueueUnavailableException("the job store (Redis) is unavailable: " + Failures.describe(e), e,
                    Math.max(1, settings.retryAfter().toSeconds()));
        }
    }

    private static String nz(String s) {
        return s == null ? "" : s;
    }

    private static String emptyToNull(String s) {
        return s == null || s.isEmpty() ? null : s;
    }

    private static int intOf(String s) {
        return s == null || s.isEmpty() ? 0 : Integer.parseInt(s);
    }

    private static long longOf(String s) {
        return s == null || s.isEmpty() ? 0 : Long.parseLong(s);
    }

    private static Long nullableLong(String s) {
        return s == null || s.isEmpty() ? null : Long.parseLong(s);
    }
}
