package dev.sdcfg.jobs;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The service's meters, named by {@link MetricNames}. Timers publish a percentile histogram (Prometheus
 * {@code _bucket} series). Tags are low-cardinality: only {@code status} on {@link MetricNames#JOBS}.
 */
public final class JobMetrics {

    private final MeterRegistry registry;
    final Timer denoiseStep;
    final Timer textEncode;
    final Timer unetForward;
    final Timer vaeDecode;
    final Timer queueWait;
    final Timer jobDuration;
    final Counter images;
    final Counter rejected;
    final MemoryMetrics memory;
    private final Map<JobStatus, Counter> finished = new EnumMap<>(JobStatus.class);

    public JobMetrics(MeterRegistry registry) {
        this.registry = registry;
        denoiseStep = timer(MetricNames.DENOISE_STEP, "One denoising step (all images of a batch, guidance included)",
                Duration.ofMillis(1), Duration.ofSeconds(60));
        textEncode = timer(MetricNames.TEXT_ENCODE, "Text encoding of a job's prompts", Duration.ofMillis(1),
                Duration.ofSeconds(30));
        unetForward = timer(MetricNames.UNET_FORWARD, "One UNet forward pass", Duration.ofMillis(1),
                Duration.ofSeconds(60));
        vaeDecode = timer(MetricNames.VAE_DECODE, "One VAE decode", Duration.ofMillis(1), Duration.ofSeconds(60));
        queueWait = timer(MetricNames.QUEUE_WAIT, "Time a job waited in the queue before the worker took it",
                Duration.ofMillis(1), Duration.ofMinutes(30));
        jobDuration = timer(MetricNames.JOB_DURATION, "Run time of a job on the worker", Duration.ofMillis(10),
                Duration.ofMinutes(30));
        images = Counter.builder(MetricNames.IMAGES).description("Images produced").register(registry);
        for (JobStatus s : new JobStatus[] {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED}) {
            finished.put(s, jobsCounter(s.wire()));
        }
        rejected = jobsCounter("rejected");
        memory = new MemoryMetrics(registry);
    }

    private Counter jobsCounter(String status) {
        return Counter.builder(MetricNames.JOBS)
                .description("Jobs by final status; rejected = refused because the queue was full")
                .tag("status", status)
                .register(registry);
    }

    private Timer timer(String name, String description, Duration min, Duration max) {
        return Timer.builder(name)
                .description(description)
                .publishPercentileHistogram()
                .minimumExpectedValue(min)
                .maximumExpectedValue(max)
                .register(registry);
    }

    /** Registers the queue gauges against {@code service}. */
    void bind(JobService service) {
        // in Redis mode this is the global depth (every replica reports the same number); NaN while Redis is away
        Gauge.builder(MetricNames.QUEUE_DEPTH, service, s -> {
                    try {
                        return s.queueDepth();
                    } catch (QueueUnavailableException e) {
                        return Double.NaN;
                    }
                })
                .description("Jobs waiting in the queue (all replicas when the queue is shared)").strongReference(true)
                .register(registry);
        Gauge.builder(MetricNames.QUEUE_CAPACITY, service, JobService::capacity)
                .description("Queue capacity").strongReference(true).register(registry);
        Gauge.builder(MetricNames.JOBS_RUNNING, service, s -> s.runningJob().isPresent() ? 1 : 0)
                .description("Jobs running now (0 or 1)").strongReference(true).register(registry);
    }

    void finished(JobStatus status) {
        Counter c = finished.get(status);
        if (c != null) {
            c.increment();
        }
    }

    void record(Timer timer, long nanos) {
        if (nanos >= 0) {
            timer.record(nanos, TimeUnit.NANOSECONDS);
        }
    }

    /** Mean job run time in seconds, or -1 before the first job. */
    double meanJobSeconds() {
        return jobDuration.count() == 0 ? -1 : jobDuration.mean(TimeUnit.SECONDS);
    }
}
