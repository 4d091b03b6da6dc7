package dev.sdcfg.jobs;

/**
 * Micrometer meter names (dots) and their Prometheus names (as exported at /q/metrics). deploy/ (dashboard,
 * KEDA trigger, ServiceMonitor) refers to the Prometheus names; a test checks both sides agree.
 */
public final class MetricNames {
    private MetricNames() {
    }

    /** Histogram (timer) of one denoising step, seconds: sd_denoise_step_seconds_{bucket,count,sum,max}. */
    public static final String DENOISE_STEP = "sd.denoise.step";
    /** Timer of the text encoder per job: sd_text_encode_seconds. */
    public static final String TEXT_ENCODE = "sd.text.encode";
    /** Timer of one UNet forward: sd_unet_forward_seconds. */
    public static final String UNET_FORWARD = "sd.unet.forward";
    /** Timer of one VAE decode: sd_vae_decode_seconds. */
    public static final String VAE_DECODE = "sd.vae.decode";
    /** Gauge: jobs waiting in the queue: sd_queue_depth. */
    public static final String QUEUE_DEPTH = "sd.queue.depth";
    /** Gauge: queue capacity: sd_queue_capacity. */
    public static final String QUEUE_CAPACITY = "sd.queue.capacity";
    /** Gauge: jobs running now (0 or 1): sd_jobs_running. */
    public static final String JOBS_RUNNING = "sd.jobs.running";
    /** Histogram (timer) of the time a job waited in the queue: sd_queue_wait_seconds. */
    public static final String QUEUE_WAIT = "sd.queue.wait";
    /** Histogram (timer) of a job's run time on the worker: sd_job_duration_seconds. */
    public static final String JOB_DURATION = "sd.job.duration";
    /** Counter of finished jobs, tag status=succeeded|failed|canceled|rejected: sd_jobs_total. */
    public static final String JOBS = "sd.jobs";
    /** Counter of images produced: sd_images_total. */
    public static final String IMAGES = "sd.images";

    /** Counter, tag plan = plain | chunked | split | tiled: image generations by memory plan. */
    public static final String MEMORY_PLANS = "sd.memory.plans";
    /** Gauge: the last plan's estimated peak working memory, bytes. */
    public static final String MEMORY_ESTIMATE = "sd.memory.estimate.bytes";
    /** Gauge: the working-memory budget, bytes. */
    public static final String MEMORY_BUDGET = "sd.memory.budget.bytes";
    /** Counter: jobs that failed because memory ran out. */
    public static final String JOBS_OUT_OF_MEMORY = "sd.jobs.out_of_memory";

    public static final String PROM_MEMORY_PLANS = "sd_memory_plans_total";
    public static final String PROM_MEMORY_ESTIMATE = "sd_memory_estimate_bytes";
    public static final String PROM_MEMORY_BUDGET = "sd_memory_budget_bytes";
    public static final String PROM_JOBS_OUT_OF_MEMORY = "sd_jobs_out_of_memory_total";

    public static final String PROM_DENOISE_STEP = "sd_denoise_step_seconds";
    public static final String PROM_TEXT_ENCODE = "sd_text_encode_seconds";
    public static final String PROM_UNET_FORWARD = "sd_unet_forward_seconds";
    public static final String PROM_VAE_DECODE = "sd_vae_decode_seconds";
    public static final String PROM_QUEUE_DEPTH = "sd_queue_depth";
    public static final String PROM_QUEUE_CAPACITY = "sd_queue_capacity";
    public static final String PROM_JOBS_RUNNING = "sd_jobs_running";
    public static final String PROM_QUEUE_WAIT = "sd_queue_wait_seconds";
    public static final String PROM_JOB_DURATION = "sd_job_duration_seconds";
    public static final String PROM_JOBS = "sd_jobs_total";
    public static final String PROM_IMAGES = "sd_images_total";
    /** Closing the resident model and loading the one a job names (models folder only). */
    public static final String MODEL_SWAP = "sd.model.swap";
    public static final String PROM_MODEL_SWAP = "sd_model_swap_seconds";
}
