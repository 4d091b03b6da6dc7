package dev.sdcfg.jobs;

import dev.sdcfg.pipeline.GeneratedImage;
import dev.sdcfg.pipeline.GenerationRequest;
import dev.sdcfg.pipeline.GenerationResult;
import dev.sdcfg.testutil.TestRedis;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the shared queue costs per job, next to the in-memory queue, in one run (docs/PERFORMANCE.md): the latency
 * from submit() to the waiting worker's claim() returning the job, one heartbeat, and complete() with one 64 KiB
 * PNG. No model runs: this is the queue's own overhead. Report: target/queue-overhead.txt (and the test log).
 */
class QueueOverheadTest {

    static final int JOBS = 200;
    static final int HEARTBEATS = 1000;

    record Costs(double[] submitToClaimMicros, double[] heartbeatMicros, double[] completeMicros) {
    }

    @Test
    void measuresRedisOverheadPerJobNextToInMemory() throws Exception {
        JobSettings settings = new JobSettings(JOBS + 1, Duration.ofMinutes(5), JOBS + 1, Duration.ofSeconds(1),
                Duration.ofSeconds(1));
        Costs memory = measure(new MemoryJobQueue(settings));
        Costs redis;
        try (TestRedis server = new TestRedis()) {
            redis = measure(new RedisJobQueue(server.client(), settings, Duration.ofSeconds(30), 2,
                    Duration.ofSeconds(5), "bench:"));
        }
        StringBuilder report = new StringBuilder();
        report.append(String.format(Locale.ROOT, "%-28s %12s %12s %12s %12s%n", "µs per operation", "memory p50",
                "memory p95", "redis p50", "redis p95"));
        row(report, "submit -> claim (worker idle)", memory.submitToClaimMicros(), redis.submitToClaimMicros());
        row(report, "heartbeat", memory.heartbeatMicros(), redis.heartbeatMicros());
        row(report, "complete (one 64 KiB PNG)", memory.completeMicros(), redis.completeMicros());
        System.out.print(report);
        Files.createDirectories(Path.of("target"));
        Files.writeString(Path.of("target/queue-overhead.txt"), report.toString());
    }

    private static void row(StringBuilder b, String name, double[] mem, double[] red) {
        b.append(String.format(Locale.ROOT, "%-28s %12.1f %12.1f %12.1f %12.1f%n", name, pct(mem, 50), pct(mem, 95),
                pct(red, 50), pct(red, 95)));
    }

    static double pct(double[] v, int p) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[Math.min(s.length - 1, (int) Math.ceil(p / 100.0 * s.length) - 1)];
    }

    private static Costs measure(JobQueue queue) throws Exception {
        SynchronousQueue<Object[]> claimed = new SynchronousQueue<>();
        Thread worker = new Thread(() -> {
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    Optional<JobQueue.Claim> c = Optional.empty();
                    while (c.isEmpty()) {
                        c = queue.claim("bench", Duration.ofSeconds(1), System::currentTimeMillis);
                    }
                    claimed.put(new Object[] {c.get(), System.nanoTime()});
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "bench-worker");
        worker.setDaemon(true);
        worker.start();
        byte[] png = new byte[64 * 1024];
        double[] latency = new double[JOBS];
        double[] complete = new double[JOBS];
        List<JobQueue.Claim> kept = new ArrayList<>();
        for (int i = -20; i < JOBS; i++) { // 20 warm-up rounds
            List<JobTask> tasks = List.of(new JobTask(null,
                    new GenerationRequest("p" + i, "", 64, 64, 1, null, null, null, i + 100, 1)));
            long t0 = System.nanoTime();
            Job job = queue.submit(new JobQueue.Submission(JobKind.GENERATION, tasks, 1, null),
                    System.currentTimeMillis());
            Object[] got = claimed.poll(30, TimeUnit.SECONDS);
            JobQueue.Claim c = (JobQueue.Claim) got[0];
            assertEquals(job.id(), c.job().id(), "the worker got the job just submitted");
            c.job().addResult(0, new GenerationResult(List.of(new GeneratedImage(png, i + 100, 64, 64)), List.of(),
                    Map.of()));
            c.job().finish(JobStatus.SUCCEEDED, null, null, System.currentTimeMillis());
            long t2 = System.nanoTime();
            assertTrue(queue.complete(c, System.currentTimeMillis()));
            long t3 = System.nanoTime();
            if (i >= 0) {
                latency[i] = ((long) got[1] - t0) / 1e3;
                complete[i] = (t3 - t2) / 1e3;
                kept.add(c);
            }
        }
        // heartbeats of a running job
        Job running = queue.submit(new JobQueue.Submission(JobKind.GENERATION, List.of(new JobTask(null,
                new GenerationRequest("hb", "", 64, 64, 1, null, null, null, 1, 1))), 1, null), System.currentTimeMillis());
        JobQueue.Claim c = (JobQueue.Claim) claimed.poll(30, TimeUnit.SECONDS)[0];
        assertEquals(running.id(), c.job().id());
        double[] hb = new double[HEARTBEATS];
        for (int i = 0; i < HEARTBEATS; i++) {
            long t0 = System.nanoTime();
            assertEquals(JobQueue.Lease.HELD, queue.heartbeat(c, System.currentTimeMillis()));
            hb[i] = (System.nanoTime() - t0) / 1e3;
        }
        worker.interrupt();
        assertEquals(JOBS, kept.size());
        return new Costs(latency, hb, complete);
    }
}
