package dev.sdcfg.jobs;

import dev.sdcfg.jobs.fake.Await;
import dev.sdcfg.jobs.fake.FakeImageGenerator;
import dev.sdcfg.jobs.fake.Gate;
import dev.sdcfg.guidance.GuidanceSpec;
import dev.sdcfg.pipeline.GenerationRequest;
import dev.sdcfg.pipeline.ImageGenerator;
import dev.sdcfg.pipeline.image.PngEncoder;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.awt.image.BufferedImage;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class JobServiceTest {

    final Gate gate = new Gate();
    final MeterRegistry registry = new SimpleMeterRegistry();
    final AtomicLong clock = new AtomicLong(1_700_000_000_000L);
    final AtomicReference<FakeImageGenerator> created = new AtomicReference<>();
    JobService service;

    JobService start(int capacity, Duration ttl, int maxRetained) {
        return start(capacity, ttl, maxRetained, () -> {
            FakeImageGenerator g = new FakeImageGenerator(gate, 0);
            created.set(g);
            return g;
        });
    }

    JobService start(int capacity, Duration ttl, int maxRetained, Supplier<ImageGenerator> factory) {
        service = new JobService(new JobSettings(capacity, ttl, maxRetained, Duration.ofSeconds(7), Duration.ofSeconds(5)),
                factory, "fake", new JobMetrics(registry), clock::get);
        service.start();
        return service;
    }

    void awaitReady() {
        Await.until(() -> service.state() == JobService.State.READY, "model ready");
    }

    @AfterEach
    void stop() {
        gate.open();
        if (service != null) {
            service.shutdown(Duration.ofSeconds(30));
        }
    }

    static GenerationRequest req(String prompt, long seed, int n, int steps) {
        return new GenerationRequest(prompt, "", 16, 8, steps, null, null, null, seed, n);
    }

    static List<JobTask> one(GenerationRequest r) {
        return List.of(new JobTask(null, r));
    }

    Job awaitFinal(Job job) throws InterruptedException {
        assertTrue(job.await(Duration.ofSeconds(60)), "job " + job.id() + " did not finish");
        return job;
    }

    @Test
    void runsAJobOnTheWorkerThreadThatCreatedTheGenerator() throws Exception {
        start(4, Duration.ofMinutes(5), 10);
        awaitReady();
        Job job = service.submit(JobKind.GENERATION, one(req("a cat", 41, 3, 4)), 1);
        awaitFinal(job);
        Job.Snapshot s = job.snapshot();
        assertEquals(JobStatus.SUCCEEDED, s.status());
        assertEquals(List.of(41L, 42L, 43L), s.seeds());
        assertEquals(3, s.images().size());
        assertEquals(12, s.stepsDone());
        assertEquals(12, s.stepsTotal());
        assertNotNull(s.startedAtMillis());
        assertTrue(s.timings().containsKey("run_ms") && s.timings().containsKey("queue_wait_ms")
                && s.timings().containsKey("total_ms"), s.timings().toString());
        for (int i = 0; i < 3; i++) {
            BufferedImage img = PngEncoder.decode(job.image(i).orElseThrow().png());
            assertEquals(16, img.getWidth());
            assertEquals(8, img.getHeight());
            int[] px = img.getRGB(0, 0, 16, 8, null, 0, 16);
            for (int p = 0; p < px.length; p++) {
                px[p] &= 0xFFFFFF;
            }
            assertArrayEquals(FakeImageGenerator.pattern(41 + i, 16, 8), px, "image " + i + " is the seed's pattern");
        }
        FakeImageGenerator g = created.get();
        assertEquals(1, g.warmUps.get());
        assertEquals(List.of(g.owner()), new ArrayList<>(g.modelThreads), "only the creating thread touches the model");
        assertEquals("sd-generation-worker", g.owner().getName());
        assertEquals(1.0, registry.get(MetricNames.JOBS).tag("status", "succeeded").counter().count());
        assertEquals(3.0, registry.get(MetricNames.IMAGES).counter().count());
        assertEquals(12, registry.get(MetricNames.DENOISE_STEP).timer().count());
        assertEquals(1, registry.get(MetricNames.QUEUE_WAIT).timer().count());
        assertEquals(1, registry.get(MetricNames.JOB_DURATION).timer().count());
        assertEquals(3, registry.get(MetricNames.VAE_DECODE).timer().count());
        assertEquals(4.0, registry.get(MetricNames.QUEUE_CAPACITY).gauge().value());
    }

    @Test
    void experimentRunsOneGenerationPerSpecAndComposesAGrid() throws Exception {
        start(4, Duration.ofMinutes(5), 10);
        awaitReady();
        List<JobTask> tasks = new ArrayList<>();
        for (String label : List.of("g=3", "g=7.5", "fullnorm")) {
            tasks.add(new JobTask(label, new GenerationRequest("a fox", "", 32, 32, 2, null, null,
                    GuidanceSpec.parse("7.5"), 5, 1)));
        }
        Job job = awaitFinal(service.submit(JobKind.EXPERIMENT, tasks, 2));
        Job.Snapshot s = job.snapshot();
        assertEquals(JobStatus.SUCCEEDED, s.status(), String.valueOf(s.errorMessage()));
        assertEquals(3, s.images().size());
        assertEquals("fullnorm", s.images().get(2).label());
        assertEquals(3, created.get().generations.get());
        byte[] grid = job.grid().orElseThrow();
        BufferedImage img = PngEncoder.decode(grid);
        assertEquals(2 * 32 + 3 * 4, img.getWidth());
        assertTrue(img.getHeight() > 2 * 32, "two rows of cells with titles");
        assertTrue(PngEncoder.readText(grid).get("Description").contains("1: g=7.5"));
    }

    @Test
    void cancelsAQueuedJobAtOnceAndARunningJobBeforeItsNextStep() throws Exception {
        start(4, Duration.ofMinutes(5), 10);
        awaitReady();
        gate.close();
        Job a = service.submit(JobKind.GENERATION, one(req("a", 1, 1, 5)), 1);
        Await.until(() -> gate.waiting() == 1, "job a blocked in its first step");
        Job b = service.submit(JobKind.GENERATION, one(req("b", 2, 1, 5)), 1);
        Job c = service.submit(JobKind.GENERATION, one(req("c", 3, 1, 1)), 1);
        assertEquals(2, service.queueDepth());
        assertEquals(1, service.queuePosition(b).getAsInt());
        assertEquals(2, service.queuePosition(c).getAsInt());

        assertEquals(Job.CancelOutcome.CANCELED, service.cancel(b.id()).orElseThrow());
        assertEquals(JobStatus.CANCELED, b.status());
        assertTrue(b.await(Duration.ZERO));
        assertEquals(1, service.queueDepth());
        assertEquals(1, service.queuePosition(c).getAsInt());

        gate.release(2); // a completes steps 0 and 1, blocks in step 2
        Await.until(() -> a.snapshot().stepsDone() == 2 && gate.waiting() == 1, "job a at step 2");
        assertEquals(Job.CancelOutcome.CANCEL_REQUESTED, service.cancel(a.id()).orElseThrow());
        awaitFinal(a);
        Job.Snapshot sa = a.snapshot();
        assertEquals(JobStatus.CANCELED, sa.status());
        assertEquals(3, sa.stepsDone(), "the step in progress finishes, the next one never starts");
        assertTrue(sa.cancelRequested());

        gate.open();
        assertEquals(JobStatus.SUCCEEDED, awaitFinal(c).status(), "the worker goes on with the next job");
        assertEquals(Job.CancelOutcome.ALREADY_FINISHED, service.cancel(c.id()).orElseThrow());
        assertTrue(service.cancel("nope").isEmpty());
        assertEquals(2.0, registry.get(MetricNames.JOBS).tag("status", "canceled").counter().count());
    }

    @Test
    void cancelWorksBetweenTheGenerationsOfAnExperiment() throws Exception {
        start(4, Duration.ofMinutes(5), 10);
        awaitReady();
        gate.close();
        List<JobTask> tasks = List.of(new JobTask("x", req("p", 1, 1, 1)), new JobTask("y", req("p", 1, 1, 1)),
                new JobTask("z", req("p", 1, 1, 1)));
        Job job = service.submit(JobKind.EXPERIMENT, tasks, 3);
        Await.until(() -> gate.waiting() == 1, "first generation blocked in its only step");
        service.cancel(job.id());
        awaitFinal(job);
        Job.Snapshot s = job.snapshot();
        assertEquals(JobStatus.CANCELED, s.status());
        assertEquals(1, s.tasksDone(), "the first generation ends, the second never starts");
        assertEquals(1, created.get().generations.get());
        assertTrue(job.grid().isEmpty());
    }

    @Test
    void fullQueueRejectsWithoutEnqueueing() throws Exception {
        start(2, Duration.ofMinutes(5), 10);
        awaitReady();
        gate.close();
        Job a = service.submit(JobKind.GENERATION, one(req("a", 1, 1, 1)), 1);
        Await.until(() -> gate.waiting() == 1, "a running");
        service.submit(JobKind.GENERATION, one(req("b", 1, 1, 1)), 1);
        service.submit(JobKind.GENERATION, one(req("c", 1, 1, 1)), 1);
        int held = service.retainedJobs();
        long accepted = service.acceptedTotal();
        QueueFullException e = assertThrows(QueueFullException.class,
                () -> service.submit(JobKind.GENERATION, one(req("d", 1, 1, 1)), 1));
        assertEquals(7, e.retryAfterSeconds(), "configured value before any job finished");
        assertEquals(held, service.retainedJobs());
        assertEquals(accepted, service.acceptedTotal());
        assertEquals(2, service.queueDepth());
        assertEquals(1.0, registry.get(MetricNames.JOBS).tag("status", "rejected").counter().count());
        assertSame(a, service.runningJob().orElseThrow());
        assertEquals(1.0, registry.get(MetricNames.JOBS_RUNNING).gauge().value());
        assertEquals(2.0, registry.get(MetricNames.QUEUE_DEPTH).gauge().value());
    }

    @Test
    void failuresEndTheJobAndTheWorkerKeepsServing() throws Exception {
        start(4, Duration.ofMinutes(5), 10);
        awaitReady();
        Job oom = awaitFinal(service.submit(JobKind.GENERATION, one(req("fail:oom", 1, 1, 2)), 1));
        Job boom = awaitFinal(service.submit(JobKind.GENERATION, one(req("fail:boom", 1, 1, 2)), 1));
        Job ok = awaitFinal(service.submit(JobKind.GENERATION, one(req("fine", 1, 1, 2)), 1));
        assertEquals(JobStatus.FAILED, oom.status());
        assertEquals("out_of_memory", oom.snapshot().errorType());
        assertTrue(oom.snapshot().errorMessage().contains("CUDA out of memory"));
        assertEquals(JobStatus.FAILED, boom.status());
        assertEquals("internal_error", boom.snapshot().errorType());
        assertTrue(boom.snapshot().errorMessage().contains("boom inside the generator"));
        assertTrue(oom.image(0).isEmpty());
        assertEquals(JobStatus.SUCCEEDED, ok.status());
        assertEquals(2.0, registry.get(MetricNames.JOBS).tag("status", "failed").counter().count());
        assertTrue(service.workerAlive());
    }

    @Test
    void loadFailureKeepsTheWorkerAliveAndAnswersWithTheReason() {
        CountDownLatch release = new CountDownLatch(1);
        start(4, Duration.ofMinutes(5), 10, () -> {
            try {
                release.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            throw new dev.sdcfg.model.ModelLoadException("model folder /nowhere does not exist");
        });
        ServiceNotReadyException loading = assertThrows(ServiceNotReadyException.class,
                () -> service.submit(JobKind.GENERATION, one(req("x", 1, 1, 1)), 1));
        assertEquals(JobService.State.LOADING, loading.state());
        assertEquals(5, loading.retryAfterSeconds());
        assertThrows(ServiceNotReadyException.class, service::requireGenerator);
        release.countDown();
        Await.until(() -> service.state() == JobService.State.FAILED, "load failure noticed");
        assertTrue(service.failureReason().orElseThrow().contains("/nowhere does not exist"));
        ServiceNotReadyException failed = assertThrows(ServiceNotReadyException.class,
                () -> service.submit(JobKind.GENERATION, one(req("x", 1, 1, 1)), 1));
        assertTrue(failed.getMessage().contains("/nowhere does not exist"), failed.getMessage());
        assertTrue(service.workerAlive());
        assertEquals(0, service.retainedJobs());
    }

    @Test
    void shutdownFinishesTheRunningJobCancelsQueuedOnesAndClosesTheModelOnTheWorker() throws Exception {
        start(4, Duration.ofMinutes(5), 10);
        awaitReady();
        gate.close();
        Job a = service.submit(JobKind.GENERATION, one(req("a", 1, 1, 3)), 1);
        Await.until(() -> gate.waiting() == 1, "a running");
        Job b = service.submit(JobKind.GENERATION, one(req("b", 1, 1, 3)), 1);
        Thread stopper = new Thread(() -> service.shutdown(Duration.ofSeconds(60)));
        stopper.start();
        Await.until(() -> b.status() == JobStatus.CANCELED, "queued job canceled by shutdown");
        assertEquals("shutdown", b.snapshot().errorType());
        ServiceNotReadyException e = assertThrows(ServiceNotReadyException.class,
                () -> service.submit(JobKind.GENERATION, one(req("c", 1, 1, 1)), 1));
        assertEquals(JobService.State.STOPPING, e.state());
        assertEquals(JobStatus.RUNNING, a.status(), "the running job is not canceled");
        gate.open();
        stopper.join(60_000);
        assertEquals(JobStatus.SUCCEEDED, a.status());
        assertEquals(JobService.State.STOPPED, service.state());
        FakeImageGenerator g = created.get();
        assertTrue(g.closed);
        assertSame(g.owner(), g.closedOn, "closed on the worker thread");
        assertFalse(service.workerAlive());
    }

    @Test
    void finishedJobsAreEvictedAfterTheTtlAndBeyondTheRetainedCount() throws Exception {
        start(8, Duration.ofMinutes(10), 3);
        awaitReady();
        List<Job> jobs = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            Job j = awaitFinal(service.submit(JobKind.GENERATION, one(req("p" + i, i, 1, 1)), 1));
            jobs.add(j);
            clock.addAndGet(1000); // distinct finish times
        }
        // the next submission evicts: 4 finished > 3 retained → the oldest goes
        Job fifth = awaitFinal(service.submit(JobKind.GENERATION, one(req("p4", 4, 1, 1)), 1));
        assertTrue(service.find(jobs.get(0).id()).isEmpty(), "oldest evicted by count");
        assertTrue(service.find(jobs.get(1).id()).isPresent());
        clock.addAndGet(Duration.ofMinutes(10).toMillis() + 1);
        assertTrue(service.find(fifth.id()).isEmpty(), "evicted by age");
        assertEquals(0, service.retainedJobs());
    }

    @Test
    void deleteForgetsOnlyFinishedJobs() throws Exception {
        start(4, Duration.ofMinutes(5), 10);
        awaitReady();
        gate.close();
        Job a = service.submit(JobKind.GENERATION, one(req("a", 1, 1, 1)), 1);
        Await.until(() -> gate.waiting() == 1, "a running");
        assertFalse(service.delete(a.id()));
        gate.open();
        awaitFinal(a);
        assertTrue(service.delete(a.id()));
        assertTrue(service.find(a.id()).isEmpty());
    }
}
