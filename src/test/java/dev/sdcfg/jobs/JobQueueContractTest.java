package dev.sdcfg.jobs;

import dev.sdcfg.jobs.fake.Await;
import dev.sdcfg.jobs.fake.FakeImageGenerator;
import dev.sdcfg.jobs.fake.Gate;
import dev.sdcfg.guidance.GuidanceSpec;
import dev.sdcfg.pipeline.GenerationRequest;
import dev.sdcfg.pipeline.SamplerOverrides;
import dev.sdcfg.pipeline.image.PngEncoder;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static dev.sdcfg.jobs.JobServiceTest.one;
import static dev.sdcfg.jobs.JobServiceTest.req;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What every {@link JobQueue} must do, seen through {@link JobService} (the HTTP side's view): the same suite runs
 * against the in-memory queue and the Redis queue. It only uses what both offer — ids, {@code find},
 * {@code awaitFinal}, {@code image} — never the in-memory queue's live objects.
 */
abstract class JobQueueContractTest {

    static final String WORKER = "replica-1";

    final Gate gate = new Gate();
    final AtomicReference<FakeImageGenerator> created = new AtomicReference<>();
    JobService service;

    abstract JobQueue newQueue(JobSettings settings);

    JobService start(int capacity) {
        JobSettings settings = new JobSettings(capacity, Duration.ofMinutes(5), 10, Duration.ofSeconds(7),
                Duration.ofSeconds(5));
        service = new JobService(settings, newQueue(settings), () -> {
            FakeImageGenerator g = new FakeImageGenerator(gate, 0);
            created.set(g);
            return g;
        }, "fake", new JobMetrics(new SimpleMeterRegistry()), System::currentTimeMillis, WORKER,
                Duration.ofMillis(50));
        service.start();
        Await.until(() -> service.state() == JobService.State.READY, "model ready");
        return service;
    }

    @AfterEach
    void stopService() {
        gate.open();
        if (service != null) {
            service.shutdown(Duration.ofSeconds(30));
        }
    }


    Job.Snapshot awaitFinal(Job job) throws InterruptedException {
        Job latest = service.awaitFinal(job, Duration.ofSeconds(60)).orElseThrow();
        assertTrue(latest.status().isFinal(), "job " + job.id() + " did not finish");
        return latest.snapshot();
    }

    Job.Snapshot now(Job job) {
        return service.find(job.id()).orElseThrow().snapshot();
    }

    @Test
    void runsAJobAndServesItsImagesFromAnyReader() throws Exception {
        start(4);
        Job job = service.submit(JobKind.GENERATION, one(req("a cat", 41, 3, 4)), 1);
        assertEquals(List.of(41L, 42L, 43L), job.snapshot().seeds(), "seeds fixed at submission");
        Job.Snapshot s = awaitFinal(job);
        assertEquals(JobStatus.SUCCEEDED, s.status(), String.valueOf(s.errorMessage()));
        assertEquals(List.of(41L, 42L, 43L), s.seeds());
        assertEquals(3, s.images().size());
        assertEquals(12, s.stepsDone());
        assertEquals(12, s.stepsTotal());
        assertEquals(1, s.attempt());
        assertEquals(WORKER, s.worker());
        assertTrue(s.timings().containsKey("run_ms") && s.timings().containsKey("queue_wait_ms"), s.timings().toString());
        for (int i = 0; i < 3; i++) {
            BufferedImage img = PngEncoder.decode(service.image(job.id(), i).orElseThrow());
            int[] px = img.getRGB(0, 0, 16, 8, null, 0, 16);
            for (int p = 0; p < px.length; p++) {
                px[p] &= 0xFFFFFF;
            }
            assertArrayEquals(FakeImageGenerator.pattern(41 + i, 16, 8), px, "image " + i + " is the seed's pattern");
        }
        assertTrue(service.image(job.id(), 3).isEmpty());
        assertTrue(service.grid(job.id()).isEmpty(), "a generation has no grid");
        FakeImageGenerator g = created.get();
        assertEquals(List.of(g.owner()), new ArrayList<>(g.modelThreads), "only the creating thread touches the model");
    }

    @Test
    void experimentComposesAGrid() throws Exception {
        start(4);
        List<JobTask> tasks = new ArrayList<>();
        List<String> specs = List.of("3", "7.5", "{\"normalizer\": \"fullnorm\", \"g\": {\"schedule\": \"cosine\", "
                + "\"max\": 0.25, \"min\": 0.05}}");
        List<String> labels = List.of("g=3", "g=7.5", "fullnorm");
        for (int i = 0; i < 3; i++) {
            tasks.add(new JobTask(labels.get(i), new GenerationRequest("a fox", "", 32, 32, 2, "euler",
                    SamplerOverrides.parse("{\"use_karras_sigmas\": true}"), GuidanceSpec.parse(specs.get(i)), 5, 1)));
        }
        Job job = service.submit(JobKind.EXPERIMENT, tasks, 2);
        Job.Snapshot s = awaitFinal(job);
        assertEquals(JobStatus.SUCCEEDED, s.status(), String.valueOf(s.errorMessage()));
        assertEquals("fullnorm", s.images().get(2).label());
        assertTrue(s.hasGrid());
        byte[] grid = service.grid(job.id()).orElseThrow();
        assertEquals(2 * 32 + 3 * 4, PngEncoder.decode(grid).getWidth());
        assertTrue(PngEncoder.readText(grid).get("Description").contains("1: g=7.5"));
        List<JobTask> stored = service.find(job.id()).orElseThrow().tasks();
        assertEquals(labels, stored.stream().map(JobTask::label).toList());
        assertEquals(tasks.stream().map(JobTask::request).toList(), stored.stream().map(JobTask::request).toList(),
                "the request comes back equal from the store: guidance spec and sampler options included");
    }

    @Test
    void cancelsAQueuedJobAtOnceAndARunningJobBeforeItsNextStep() throws Exception {
        start(4);
        gate.close();
        Job a = service.submit(JobKind.GENERATION, one(req("a", 1, 1, 5)), 1);
        Await.until(() -> gate.waiting() == 1, "job a blocked in its first step");
        Job b = service.submit(JobKind.GENERATION, one(req("b", 2, 1, 5)), 1);
        Job c = service.submit(JobKind.GENERATION, one(req("c", 3, 1, 1)), 1);
        assertEquals(2, service.queueDepth());
        assertEquals(1, service.queuePosition(b).getAsInt());
        assertEquals(2, service.queuePosition(c).getAsInt());
        assertEquals(JobStatus.RUNNING, now(a).status());

        assertEquals(Job.CancelOutcome.CANCELED, service.cancel(b.id()).orElseThrow());
        assertEquals(JobStatus.CANCELED, now(b).status());
        assertEquals("canceled", now(b).errorType());
        assertEquals(1, service.queueDepth());
        assertEquals(1, service.queuePosition(c).getAsInt());

        gate.release(2); // a completes steps 0 and 1, blocks in step 2
        Await.until(() -> now(a).stepsDone() == 2 && gate.waiting() == 1, "job a at step 2, seen by readers");
        assertEquals(Job.CancelOutcome.CANCEL_REQUESTED, service.cancel(a.id()).orElseThrow());
        Job.Snapshot sa = awaitFinal(a);
        assertEquals(JobStatus.CANCELED, sa.status());
        assertEquals(3, sa.stepsDone(), "the step in progress finishes, the next one never starts");
        assertTrue(sa.cancelRequested());

        gate.open();
        assertEquals(JobStatus.SUCCEEDED, awaitFinal(c).status(), "the worker goes on with the next job");
        assertEquals(Job.CancelOutcome.ALREADY_FINISHED, service.cancel(c.id()).orElseThrow());
        assertTrue(service.cancel("nope").isEmpty());
    }

    @Test
    void fullQueueRejectsWithoutEnqueueing() throws Exception {
        start(2);
        gate.close();
        Job a = service.submit(JobKind.GENERATION, one(req("a", 1, 1, 1)), 1);
        Await.until(() -> gate.waiting() == 1, "a running");
        service.submit(JobKind.GENERATION, one(req("b", 1, 1, 1)), 1);
        service.submit(JobKind.GENERATION, one(req("c", 1, 1, 1)), 1);
        QueueFullException e = assertThrows(QueueFullException.class,
                () -> service.submit(JobKind.GENERATION, one(req("d", 1, 1, 1)), 1));
        assertEquals(7, e.retryAfterSeconds(), "configured value before any job finished");
        assertEquals(2, service.queueDepth());
        assertEquals(a.id(), service.runningJob().orElseThrow().id());
    }

    @Test
    void failuresEndTheJobAndTheWorkerKeepsServing() throws Exception {
        start(4);
        Job.Snapshot oom = awaitFinal(service.submit(JobKind.GENERATION, one(req("fail:oom", 1, 1, 2)), 1));
        Job.Snapshot boom = awaitFinal(service.submit(JobKind.GENERATION, one(req("fail:boom", 1, 1, 2)), 1));
        Job.Snapshot ok = awaitFinal(service.submit(JobKind.GENERATION, one(req("fine", 1, 1, 2)), 1));
        assertEquals(JobStatus.FAILED, oom.status());
        assertEquals("out_of_memory", oom.errorType());
        assertTrue(oom.errorMessage().contains("CUDA out of memory"));
        assertEquals("internal_error", boom.errorType());
        assertTrue(service.image(oom.id(), 0).isEmpty());
        assertEquals(JobStatus.SUCCEEDED, ok.status());
        assertTrue(service.workerAlive());
    }

    @Test
    void deleteForgetsOnlyFinishedJobsAndTheirImages() throws Exception {
        start(4);
        gate.close();
        Job a = service.submit(JobKind.GENERATION, one(req("a", 1, 1, 1)), 1);
        Await.until(() -> gate.waiting() == 1, "a running");
        assertFalse(service.delete(a.id()));
        gate.open();
        awaitFinal(a);
        assertTrue(service.image(a.id(), 0).isPresent());
        assertTrue(service.delete(a.id()));
        assertTrue(service.find(a.id()).isEmpty());
        assertTrue(service.image(a.id(), 0).isEmpty());
        assertFalse(service.delete(a.id()));
    }

    @Test
    void anIdempotencyKeyNamesOneJob() throws Exception {
        start(4);
        gate.close();
        JobQueue.Idempotency key = new JobQueue.Idempotency("order-17", "digest-a");
        Job first = service.submit(JobKind.GENERATION, one(req("a", 1, 1, 1)), 1, key);
        Job again = service.submit(JobKind.GENERATION, one(req("a", 1, 1, 1)), 1, key);
        assertEquals(first.id(), again.id());
        Await.until(() -> gate.waiting() == 1, "the first job holds the worker"); // so the depth below is stable
        int depth = service.queueDepth();
        IdempotencyConflictException e = assertThrows(IdempotencyConflictException.class,
                () -> service.submit(JobKind.GENERATION, one(req("b", 1, 1, 1)), 1,
                        new JobQueue.Idempotency("order-17", "digest-b")));
        assertEquals(first.id(), e.jobId());
        assertEquals(depth, service.queueDepth(), "the refused submission enqueued nothing");
        Job other = service.submit(JobKind.GENERATION, one(req("a", 1, 1, 1)), 1,
                new JobQueue.Idempotency("order-18", "digest-a"));
        assertFalse(first.id().equals(other.id()), "another key is another job");
        gate.open();
        awaitFinal(first);
        assertEquals(first.id(), service.submit(JobKind.GENERATION, one(req("a", 1, 1, 1)), 1, key).id(),
                "still the same job once it finished");
    }
}
