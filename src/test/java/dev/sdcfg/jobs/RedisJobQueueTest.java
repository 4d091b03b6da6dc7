package dev.sdcfg.jobs;

import dev.sdcfg.jobs.fake.Await;
import dev.sdcfg.jobs.fake.FakeImageGenerator;
import dev.sdcfg.jobs.fake.Gate;
import dev.sdcfg.pipeline.GenerationRequest;
import dev.sdcfg.testutil.TestRedis;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What only a shared queue does: replicas that see each other's jobs, leases that lapse, crashes that are
 * counted, a lost lease that cannot overwrite a newer attempt, hand-back, and a Redis that goes away and returns.
 * A "ghost" worker is a bare {@link RedisJobQueue#claim} that never renews its lease: a worker that was SIGKILLed.
 */
class RedisJobQueueTest {

    static final Duration LEASE = Duration.ofMillis(400);
    static TestRedis redis;

    final List<JobService> services = new ArrayList<>();
    final Gate gate = new Gate();
    final JobSettings settings = new JobSettings(3, Duration.ofMinutes(5), 10, Duration.ofSeconds(7),
            Duration.ofSeconds(5));

    @BeforeAll
    static void startRedis() {
        redis = new TestRedis();
    }

    @AfterAll
    static void stopRedis() {
        redis.close();
    }

    @BeforeEach
    void emptyStore() {
        redis.flushAll();
    }

    @AfterEach
    void stopServices() {
        gate.open();
        for (JobService s : services) {
            s.shutdown(Duration.ofSeconds(5));
        }
    }

    RedisJobQueue queue() {
        return new RedisJobQueue(redis.client(), settings, LEASE, 2, Duration.ofSeconds(5), "sd:");
    }

    JobService replica(String name) {
        return replica(name, Duration.ofMillis(50));
    }

    JobService replica(String name, Duration heartbeat) {
        JobService s = new JobService(settings, queue(), () -> new FakeImageGenerator(gate, 0), "fake",
                new JobMetrics(new SimpleMeterRegistry()), System::currentTimeMillis, name, heartbeat);
        services.add(s);
        s.start();
        Await.until(() -> s.state() == JobService.State.READY, name + " ready");
        return s;
    }

    static List<JobTask> one(String prompt, long seed) {
        return List.of(new JobTask(null, new GenerationRequest(prompt, "", 16, 8, 2, null, null, null, seed, 1)));
    }

    static Job.Snapshot awaitFinal(JobService s, Job job) throws InterruptedException {
        Job latest = s.awaitFinal(job, Duration.ofSeconds(60)).orElseThrow();
        assertTrue(latest.status().isFinal(), "job " + job.id() + " did not finish");
        return latest.snapshot();
    }

    @Test
    void anyReplicaAnswersForAJobAnotherAcceptedAndOneCapacityHoldsForAll() throws Exception {
        JobService a = replica("a");
        JobService b = replica("b");
        gate.close();
        Job first = a.submit(JobKind.GENERATION, one("x", 1), 1);
        Job second = b.submit(JobKind.GENERATION, one("y", 2), 1);
        Await.until(() -> gate.waiting() == 2, "both replicas run one job each");
        a.submit(JobKind.GENERATION, one("q1", 3), 1);
        b.submit(JobKind.GENERATION, one("q2", 4), 1);
        Job third = a.submit(JobKind.GENERATION, one("q3", 5), 1);
        assertThrows(QueueFullException.class, () -> b.submit(JobKind.GENERATION, one("q4", 6), 1),
                "three waiting in all: the capacity is global");
        assertEquals(3, a.queueDepth());
        assertEquals(3, b.queueDepth());
        assertEquals(3, b.queuePosition(third).getAsInt());
        assertEquals(JobStatus.RUNNING, b.find(first.id()).orElseThrow().status());
        gate.open();
        Job.Snapshot s1 = awaitFinal(b, first);
        Job.Snapshot s2 = awaitFinal(a, second);
        assertEquals(JobStatus.SUCCEEDED, s1.status());
        assertEquals(JobStatus.SUCCEEDED, s2.status());
        assertFalse(s1.worker().equals(s2.worker()), "two replicas ran them: " + s1.worker() + ", " + s2.worker());
        assertArrayEqualsBytes(a.image(first.id(), 0).orElseThrow(), b.image(first.id(), 0).orElseThrow());
    }

    @Test
    void aCancelOnAnotherReplicaReachesTheOwnerByPubSubNotOnlyAtItsHeartbeat() throws Exception {
        // a heartbeat far away (and a lease longer still): only the cancel channel can stop the job in time
        JobService owner = new JobService(settings, new RedisJobQueue(redis.client(), settings, Duration.ofMinutes(10),
                2, Duration.ofSeconds(5), "sd:"), () -> new FakeImageGenerator(gate, 0), "fake",
                new JobMetrics(new SimpleMeterRegistry()), System::currentTimeMillis, "owner", Duration.ofMinutes(5));
        services.add(owner);
        owner.start();
        Await.until(() -> owner.state() == JobService.State.READY, "owner ready");
        RedisJobQueue other = queue();
        gate.close();
        Job job = owner.submit(JobKind.GENERATION, one("long", 1), 1);
        Await.until(() -> gate.waiting() == 1, "running on owner");
        long t0 = System.nanoTime();
        assertEquals(Job.CancelOutcome.CANCEL_REQUESTED, other.cancel(job.id(), System.currentTimeMillis()).orElseThrow());
        Await.until(() -> owner.runningJob().isEmpty(), "the owner stopped the job");
        assertTrue(System.nanoTime() - t0 < 30_000_000_000L, "well before the 5-minute heartbeat");
        Job.Snapshot s = awaitFinal(other.find(job.id()).map(j -> owner).orElseThrow(), job);
        assertEquals(JobStatus.CANCELED, s.status());
        assertTrue(s.cancelRequested());
    }

    @Test
    void aJobWhoseWorkerDiedIsTakenOverWithTheNextAttemptAndTheSameSeeds() throws Exception {
        RedisJobQueue ghostQueue = queue();
        Job job = ghostQueue.submit(new JobQueue.Submission(JobKind.GENERATION, one("p", 77), 1, null),
                System.currentTimeMillis());
        JobQueue.Claim ghost = ghostQueue.claim("ghost", Duration.ofMillis(100), System::currentTimeMillis)
                .orElseThrow();
        assertEquals(1, ghost.attempt());
        JobService heir = replica("heir");
        Job.Snapshot s = awaitFinal(heir, job);
        assertEquals(JobStatus.SUCCEEDED, s.status());
        assertEquals(2, s.attempt());
        assertEquals("heir", s.worker());
        assertEquals(List.of(77L), s.seeds());
        // the dead worker's late writes are refused: it lost the lease
        assertEquals(JobQueue.Lease.LOST, ghostQueue.heartbeat(ghost, System.currentTimeMillis()));
        ghost.job().finish(JobStatus.FAILED, "internal_error", "late", System.currentTimeMillis());
        assertFalse(ghostQueue.complete(ghost, System.currentTimeMillis()));
        assertEquals(JobStatus.SUCCEEDED, heir.find(job.id()).orElseThrow().status());
    }

    @Test
    void aJobThatKilledItsWorkerThreeTimesFails() throws Exception {
        RedisJobQueue q = queue();
        Job job = q.submit(new JobQueue.Submission(JobKind.GENERATION, one("poison", 1), 1, null),
                System.currentTimeMillis());
        for (int attempt = 1; attempt <= 3; attempt++) {
            JobQueue.Claim c = claimWithin(q, "ghost-" + attempt);
            assertEquals(attempt, c.attempt());
        }
        // the fourth worker finds three dead runs (more than sd.queue.max-crashes = 2): the job fails, nobody runs it
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (q.find(job.id()).orElseThrow().status() == JobStatus.RUNNING && System.nanoTime() < deadline) {
            assertTrue(q.claim("ghost-4", Duration.ofMillis(50), System::currentTimeMillis).isEmpty());
            Thread.sleep(50);
        }
        Job.Snapshot s = q.find(job.id()).orElseThrow().snapshot();
        assertEquals(JobStatus.FAILED, s.status());
        assertEquals("worker_crashed", s.errorType());
        assertEquals(3, s.attempt());
        assertEquals(0, q.depth());
    }

    private static JobQueue.Claim claimWithin(RedisJobQueue q, String worker) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (System.nanoTime() < deadline) {
            var c = q.claim(worker, Duration.ofMillis(50), System::currentTimeMillis);
            if (c.isPresent()) {
                return c.get();
            }
            Thread.sleep(20);
        }
        throw new AssertionError(worker + " got no job");
    }

    @Test
    void aHandedBackJobIsTakenAtOnceWithoutCountingACrash() throws Exception {
        RedisJobQueue q = queue();
        Job job = q.submit(new JobQueue.Submission(JobKind.GENERATION, one("p", 5), 1, null),
                System.currentTimeMillis());
        JobQueue.Claim c = q.claim("leaving", Duration.ofMillis(100), System::currentTimeMillis).orElseThrow();
        q.handBack(c, System.currentTimeMillis());
        assertEquals(JobStatus.QUEUED, q.find(job.id()).orElseThrow().status());
        assertEquals(1, q.queuePosition(job.id()).getAsInt());
        JobQueue.Claim next = q.claim("staying", Duration.ofMillis(100), System::currentTimeMillis).orElseThrow();
        assertEquals(job.id(), next.job().id());
        assertEquals(2, next.attempt());
        assertEquals(JobQueue.Lease.LOST, q.heartbeat(c, System.currentTimeMillis()));
        assertEquals(JobQueue.Lease.HELD, q.heartbeat(next, System.currentTimeMillis()));
    }

    @Test
    void shutdownKeepsQueuedJobsForTheNextReplica() throws Exception {
        JobService first = replica("first");
        gate.close();
        Job running = first.submit(JobKind.GENERATION, one("r", 1), 1);
        Await.until(() -> gate.waiting() == 1, "running on first");
        Job waiting = first.submit(JobKind.GENERATION, one("w", 2), 1);
        Thread stopper = new Thread(() -> first.shutdown(Duration.ofMillis(200)));
        stopper.start();
        stopper.join(30_000);
        assertEquals(JobStatus.QUEUED, first.find(waiting.id()).orElseThrow().status(), "not canceled");
        assertEquals(JobStatus.QUEUED, first.find(running.id()).orElseThrow().status(), "handed back after the grace");
        gate.open();
        JobService second = replica("second");
        Job.Snapshot r = awaitFinal(second, running);
        Job.Snapshot w = awaitFinal(second, waiting);
        assertEquals(JobStatus.SUCCEEDED, r.status());
        assertEquals(2, r.attempt());
        assertEquals("second", r.worker());
        assertEquals(JobStatus.SUCCEEDED, w.status());
        assertEquals(1, w.attempt());
    }

    @Test
    void redisDownRefusesSubmissionsClearlyAndTheReplicaRecovers() throws Exception {
        JobService s = replica("r");
        Job before = s.submit(JobKind.GENERATION, one("before", 1), 1);
        awaitFinal(s, before);
        redis.stop();
        try {
            QueueUnavailableException down = assertThrows(QueueUnavailableException.class,
                    () -> s.submit(JobKind.GENERATION, one("during", 2), 1));
            assertTrue(down.getMessage().contains("Redis"), down.getMessage());
            assertTrue(down.retryAfterSeconds() > 0);
            assertThrows(QueueUnavailableException.class, () -> s.find(before.id()));
            Thread.sleep(500); // the worker meets the outage too, and must survive it
            assertTrue(s.workerAlive());
        } finally {
            redis.start();
        }
        // the data is gone (the test server keeps nothing on disk), the service is not
        Job after = submitWhenBack(s);
        assertEquals(JobStatus.SUCCEEDED, awaitFinal(s, after).status());
    }

    private static Job submitWhenBack(JobService s) throws InterruptedException {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (true) {
            try {
                return s.submit(JobKind.GENERATION, one("after", 3), 1);
            } catch (QueueUnavailableException e) {
                if (System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }

    private static void assertArrayEqualsBytes(byte[] a, byte[] b) {
        org.junit.jupiter.api.Assertions.assertArrayEquals(a, b);
    }
}
