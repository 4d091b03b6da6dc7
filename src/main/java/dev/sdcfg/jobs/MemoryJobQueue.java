package dev.sdcfg.jobs;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingDeque;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.function.LongSupplier;

/**
 * The default {@link JobQueue}: a bounded in-process queue and a {@link JobStore}. Jobs live and die with this
 * process, so a shutdown cancels the waiting ones (they would be lost) and a lease can never be lost.
 */
public final class MemoryJobQueue implements JobQueue {

    /** How long an Idempotency-Key keeps naming its job. */
    static final Duration IDEMPOTENCY_TTL = Duration.ofHours(24);

    private record Remembered(String digest, String jobId, long expiresAtMillis) {
    }

    private final JobSettings settings;
    private final JobStore store = new JobStore();
    private final LinkedBlockingDeque<Job> queue;
    /** The model resident on the worker (models folder), or null: plain FIFO. */
    private volatile Supplier<String> resident;
    private volatile int maxPassOver;
    /** How often each waiting head job was passed over for a job on the resident model. */
    private final Map<String, Integer> passedOver = new ConcurrentHashMap<>();
    private final Map<String, Remembered> idempotency = new ConcurrentHashMap<>();
    private final Object submitLock = new Object();

    public MemoryJobQueue(JobSettings settings) {
        this.settings = settings;
        this.queue = new LinkedBlockingDeque<>(settings.queueCapacity());
    }

    /**
     * With a models folder: prefer jobs on the resident model, so that a burst of jobs for two models does not swap
     * on every job. Bounded: the oldest waiting job is passed over at most {@code maxPassOver} times, then it runs
     * (and causes the swap), so a job waits at most {@code maxPassOver} extra jobs per job ahead of it.
     */
    public void preferResident(Supplier<String> resident, int maxPassOver) {
        this.maxPassOver = maxPassOver;
        this.resident = resident;
    }

    @Override
    public Job submit(Submission s, long nowMillis) {
        synchronized (submitLock) {
            Idempotency idem = s.idempotency();
            if (idem != null) {
                Remembered r = idempotency.get(idem.key());
                if (r != null && r.expiresAtMillis() > nowMillis) {
                    if (!r.digest().equals(idem.requestDigest())) {
                        throw new IdempotencyConflictException(r.jobId());
                    }
                    Optional<Job> earlier = store.get(r.jobId());
                    if (earlier.isPresent()) {
                        return earlier.get();
                    }
                }
            }
            Job job = new Job(UUID.randomUUID().toString(), s.kind(), s.tasks(), s.gridColumns(), nowMillis,
                    System.nanoTime());
            store.put(job);
            if (!queue.offer(job)) {
                store.remove(job);
                throw new QueueFullException(settings.queueCapacity(), 0);
            }
            if (idem != null) {
                idempotency.put(idem.key(), new Remembered(idem.requestDigest(), job.id(),
                        nowMillis + IDEMPOTENCY_TTL.toMillis()));
            }
            return job;
        }
    }

    @Override
    public Optional<Job> find(String id) {
        return store.get(id);
    }

    @Override
    public Optional<byte[]> image(String id, int index) {
        return store.get(id).flatMap(j -> j.image(index)).map(g -> g.png());
    }

    @Override
    public Optional<byte[]> grid(String id) {
        return store.get(id).flatMap(Job::grid);
    }

    @Override
    public Optional<Job.CancelOutcome> cancel(String id, long nowMillis) {
        Optional<Job> job = store.get(id);
        if (job.isEmpty()) {
            return Optional.empty();
        }
        Job.CancelOutcome outcome = job.get().requestCancel(nowMillis);
        if (outcome == Job.CancelOutcome.CANCELED) {
            queue.remove(job.get());
            passedOver.remove(id);
        }
        return Optional.of(outcome);
    }

    @Override
    public boolean delete(String id) {
        Optional<Job> job = store.get(id);
        return job.isPresent() && job.get().isFinal() && store.remove(job.get());
    }

    @Override
    public OptionalInt queuePosition(String id) {
        int i = 1;
        for (Job j : queue) {
            if (j.id().equals(id)) {
                return OptionalInt.of(i);
            }
            i++;
        }
        return OptionalInt.empty();
    }

    @Override
    public int depth() {
        return queue.size();
    }

    @Override
    public int retained() {
        return store.size();
    }

    @Override
    public Optional<Job> awaitFinal(Job job, Duration timeout) throws InterruptedException {
        job.await(timeout);
        return Optional.of(job);
    }

    @Override
    public Optional<Claim> claim(String worker, Duration wait, LongSupplier clock) throws InterruptedException {
        Job job = queue.poll(Math.max(0, wait.toMillis()), TimeUnit.MILLISECONDS);
        if (job != null && resident != null) {
            job = preferResident(job);
        }
        if (job == null || !job.start(clock.getAsLong(), 1, worker)) {
            return Optional.empty(); // nothing waiting, or canceled while it waited
        }
        return Optional.of(new Claim(job, 1, worker, job.id()));
    }

    /** {@code head} or, while it may still be passed over, the first waiting job on the resident model. */
    private Job preferResident(Job head) {
        String r = resident.get();
        if (r == null || r.equals(modelOf(head)) || passedOver.getOrDefault(head.id(), 0) >= maxPassOver) {
            passedOver.remove(head.id());
            return head;
        }
        for (Job j : queue) {
            if (r.equals(modelOf(j))) {
                if (!queue.offerFirst(head)) {
                    return head; // a submit filled the freed slot: no reordering this time
                }
                if (queue.remove(j)) {
                    passedOver.merge(head.id(), 1, Integer::sum);
                    passedOver.remove(j.id());
                    return j;
                }
                queue.remove(head); // j was canceled meanwhile
                return head;
            }
        }
        passedOver.remove(head.id());
        return head;
    }

    private static String modelOf(Job j) {
        return j.tasks().isEmpty() ? null : j.tasks().get(0).request().model();
    }

    @Override
    public Lease heartbeat(Claim claim, long nowMillis) {
        return claim.job().cancelRequested() ? Lease.CANCEL : Lease.HELD;
    }

    @Override
    public boolean complete(Claim claim, long nowMillis) {
        return true; // the worker's object is the stored job: its final state is already visible
    }

    @Override
    public void handBack(Claim claim, long nowMillis) {
        // nobody else could run it: stop it before its next step (it ends canceled)
        claim.job().requestCancel(nowMillis);
    }

    @Override
    public List<Job> stopAccepting(long nowMillis) {
        List<Job> waiting = new ArrayList<>();
        synchronized (submitLock) {
            queue.drainTo(waiting);
        }
        List<Job> canceled = new ArrayList<>();
        for (Job j : waiting) {
            if (j.finish(JobStatus.CANCELED, "shutdown", "the service shut down before this job started", nowMillis)) {
                canceled.add(j);
            }
        }
        return canceled;
    }

    @Override
    public boolean durable() {
        return false;
    }

    @Override
    public void evict(long nowMillis) {
        store.evict(nowMillis, settings.ttl(), settings.maxRetained());
        idempotency.values().removeIf(r -> r.expiresAtMillis() <= nowMillis);
    }
}
