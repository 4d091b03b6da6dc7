package dev.sdcfg.jobs;

import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.eclipse.microprofile.health.HealthCheck;
import org.eclipse.microprofile.health.HealthCheckResponse;
import org.eclipse.microprofile.health.HealthCheckResponseBuilder;
import org.eclipse.microprofile.health.Readiness;

/** UP once the model is loaded and one warm-up step ran; DOWN while loading, after a load failure (with the reason), and when stopping. */
@Readiness
@ApplicationScoped
public class ModelReadinessCheck implements HealthCheck {

    @Inject
    JobService service;

    @Override
    public HealthCheckResponse call() {
        JobService.State state = service.state();
        HealthCheckResponseBuilder b = HealthCheckResponse.named("model")
                .status(state == JobService.State.READY)
                .withData("state", state.name().toLowerCase(java.util.Locale.ROOT))
                .withData("model", service.modelDescription())
                .withData("queue_depth", service.queueDepth())
                .withData("queue_capacity", service.capacity());
        service.failureReason().ifPresent(r -> b.withData("reason", r));
        return b.build();
    }
}
