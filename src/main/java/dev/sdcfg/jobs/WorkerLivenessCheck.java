package dev.sdcfg.jobs;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.Liveness;

/** UP while the generation worker thread is alive (it stays alive after a model load failure). */
@Liveness
@ApplicationScoped
public class WorkerLivenessCheck implements HealthCheck {

    @Inject
    JobService service;

    @Override
    public HealthCheckResponse call() {
        return HealthCheckResponse.named("generation-worker")
                .status(service.workerAlive())
                .withData("state", service.state().name().toLowerCase(java.util.Locale.ROOT))
                .build();
    }
}
