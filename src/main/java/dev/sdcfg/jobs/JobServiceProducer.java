package dev.sdcfg.jobs;

import io.micrometer.core.instrument.MeterRegistry;
import io.vertx.mutiny.redis.client.Redis;
import io.quarkus.runtime.ShutdownDelayInitiatedEvent;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.enterprise.event.Observes;
import jakarta.enterprise.inject.Any;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Instance;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import org.eclipse.microprofile.config.inject.ConfigProperty;
import org.jboss.logging.Logger;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * CDI wiring of the {@link JobService}: picks the {@link GeneratorProvider} named by {@code sd.generator}, starts
 * the worker at start-up (the model then loads in the background on that thread), and shuts down gracefully:
 * when Quarkus begins its shutdown the queue stops accepting and queued jobs are canceled; the running job may
 * finish within {@code quarkus.shutdown.timeout}.
 */
@Singleton
public class JobServiceProducer {

    private static final Logger LOG = Logger.getLogger(JobServiceProducer.class);

    @Produces
    @Singleton
    JobService jobService(ServiceConfig config, MeterRegistry registry, @Any Instance<GeneratorProvider> providers,
                          @ConfigProperty(name = "quarkus.redis.hosts") Optional<String> redisHosts,
                          Instance<Redis> redis, ModelCatalog catalog) {
        GeneratorProvider provider = select(config.generator(), providers);
        JobSettings settings = new JobSettings(config.queue().capacity(), config.jobs().ttl(),
                config.jobs().maxRetained(), config.queue().retryAfter(), config.model().loadingRetryAfter());
        String worker = config.queue().workerName().filter(n -> !n.isBlank()).orElseGet(JobServiceProducer::hostAndPid);
        JobQueue queue;
        if (redisHosts.filter(h -> !h.isBlank()).isPresent()) {
            // the choice is made here, at start-up, so one image serves both modes
            queue = new RedisJobQueue(redis.get(), settings, config.queue().lease(), config.queue().maxCrashes(),
                    Duration.ofSeconds(5), "sd:");
            LOG.infof("Job queue: shared, on Redis (lease %s); this replica is %s", config.queue().lease(), worker);
        } else {
            queue = new MemoryJobQueue(settings);
            LOG.info("Job queue: in memory (set quarkus.redis.hosts to share one queue between replicas)");
        }
        if (catalog.enabled()) {
            if (queue instanceof MemoryJobQueue m) {
                m.preferResident(() -> catalog.resident().get(), config.models().maxPassOver());
            } else {
                // a shared queue is FIFO across replicas: each replica swaps to what the job it takes names
                LOG.info("Models folder with the shared queue: jobs run in order; a replica swaps models as needed");
            }
        }
        return new JobService(settings, queue, provider::create, provider.describe(), new JobMetrics(registry),
                System::currentTimeMillis, worker, config.queue().heartbeat());
    }

    /** The pod name (HOSTNAME) or host name, and the process id: unique among replicas, also on one host. */
    static String hostAndPid() {
        String host = System.getenv("HOSTNAME");
        if (host == null || host.isBlank()) {
            try {
                host = java.net.InetAddress.getLocalHost().getHostName();
            } catch (java.io.IOException e) {
                host = "replica";
            }
        }
        return host + "-" + ProcessHandle.current().pid();
    }

    static GeneratorProvider select(String name, Instance<GeneratorProvider> providers) {
        List<String> names = new ArrayList<>();
        for (GeneratorProvider p : providers) {
            if (p.name().equals(name)) {
                return p;
            }
            names.add(p.name());
        }
        throw new IllegalStateException("sd.generator=" + name + " names no generator; available: " + names);
    }

    void onStart(@Observes StartupEvent event, JobService service, ServiceConfig config) {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
        int min = config.limits().minSize();
        int max = config.limits().maxSize();
        if (min > max || min % 8 != 0 || max % 8 != 0) {
            throw new IllegalStateException("sd.limits.min-size (" + min + ") and sd.limits.max-size (" + max
                    + ") must be multiples of 8 with min <= max");
        }
        config.defaults().size().map(String::trim).filter(v -> !v.isEmpty()).ifPresent(v -> {
            if (!v.matches("[0-9]{1,5}x[0-9]{1,5}")) {
                throw new IllegalStateException("sd.defaults.size must be WxH, e.g. 512x512: '" + v + "'");
            }
        });
        service.start();
    }

    /** First phase of a graceful shutdown (quarkus.shutdown.delay-enabled): stop accepting, cancel queued jobs. */
    void onShutdownInitiated(@Observes ShutdownDelayInitiatedEvent event, JobService service) {
        LOG.info(service.sharedQueue()
                ? "Shutdown initiated: no new jobs claimed; queued jobs stay in the shared queue, the running job may finish"
                : "Shutdown initiated: no new jobs; queued jobs are canceled, the running job may finish");
        service.stopAccepting();
    }

    void onStop(@Observes ShutdownEvent event, JobService service,
                @ConfigProperty(name = "quarkus.shutdown.timeout") Optional<Duration> timeout) {
        service.shutdown(timeout.orElse(Duration.ofSeconds(30)));
    }

    void dispose(@Disposes JobService service) {
        service.shutdown(Duration.ofSeconds(1));
    }
}
