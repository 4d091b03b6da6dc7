package dev.sdcfg.jobs;

import dev.sdcfg.pipeline.MemoryPlan;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The memory planner's metrics: plans chosen by kind ({@code sd_memory_plans_total{plan}} = plain, chunked,
 * split, tiled), the last plan's estimate and budget (gauges, bytes), and jobs that failed for lack of memory
 * ({@code sd_jobs_out_of_memory_total}).
 */
public final class MemoryMetrics {

    private final MeterRegistry registry;
    private final Map<String, Counter> plans = new ConcurrentHashMap<>();
    private final AtomicLong estimate = new AtomicLong();
    private final AtomicLong budget = new AtomicLong();
    private final Counter outOfMemory;

    MemoryMetrics(MeterRegistry registry) {
        this.registry = registry;
        for (String kind : new String[] {"plain", "chunked", "split", "tiled"}) {
            plans.put(kind, Counter.builder(MetricNames.MEMORY_PLANS)
                    .description("Image generations by memory plan (plain, chunked, split, tiled)")
                    .tag("plan", kind).register(registry));
        }
        Gauge.builder(MetricNames.MEMORY_ESTIMATE, estimate, AtomicLong::get)
                .description("Estimated peak working memory of the last planned generation, bytes")
                .strongReference(true).register(registry);
        Gauge.builder(MetricNames.MEMORY_BUDGET, budget, AtomicLong::get)
                .description("Working-memory budget the last generation was planned against, bytes")
                .strongReference(true).register(registry);
        outOfMemory = Counter.builder(MetricNames.JOBS_OUT_OF_MEMORY)
                .description("Jobs that failed because memory ran out").register(registry);
    }

    void planned(MemoryPlan plan) {
        plans.computeIfAbsent(plan.kind(), k -> Counter.builder(MetricNames.MEMORY_PLANS).tag("plan", k)
                .register(registry)).increment();
        estimate.set(plan.estimateBytes());
        budget.set(plan.budgetBytes());
    }

    void outOfMemory() {
        outOfMemory.increment();
    }

    double outOfMemoryCount() {
        return outOfMemory.count();
    }
}
