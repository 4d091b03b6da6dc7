package dev.sdcfg.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

import java.util.List;
import java.util.Map;

/** A job as GET /v1/jobs/{id} shows it. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@Schema(name = "Job", description = "A generation or experiment job: status, progress, queue position, timings, "
        + "seeds, warnings, error and result links")
public record JobView(
        @Schema(description = "Job id", examples = "3f1c2a9e-8d7b-4c1a-9e0f-2b6d5a4c3e21") String id,
        @Schema(description = "Always \"job\"", examples = "job") String object,
        @Schema(description = "generation or experiment", enumeration = {"generation", "experiment"}) String kind,
        @Schema(description = "Job status", enumeration = {"queued", "running", "succeeded", "failed", "canceled"})
        String status,
        @JsonProperty("created_at") @Schema(description = "ISO-8601 UTC", examples = "2026-01-01T00:00:00Z") String createdAt,
        @JsonProperty("started_at") @Schema(description = "ISO-8601 UTC; absent until the worker takes the job") String startedAt,
        @JsonProperty("finished_at") @Schema(description = "ISO-8601 UTC; absent until the job ends") String finishedAt,
        @JsonProperty("queue_position") @Schema(description = "1 = next to run; present only while queued",
                examples = "2") Integer queuePosition,
        @Schema(description = "Denoising progress") Progress progress,
        @JsonProperty("cancel_requested") @Schema(description = "DELETE was called while it ran") boolean cancelRequested,
        @Schema(description = "Seeds of the images (seed + i for n images; the shared seed per experiment spec)")
        List<Long> seeds,
        @Schema(description = "User-facing notes, e.g. a prompt cut at 77 tokens") List<String> warnings,
        @Schema(description = "Milliseconds: queue_wait_ms, run_ms, and the engine's stage timings (<stage>_ms)")
        Map<String, Double> timings,
        @Schema(description = "Why the job failed or was canceled") JobError error,
        @Schema(description = "Result images (once succeeded)") List<JobImage> images,
        @JsonProperty("grid_url") @Schema(description = "The titled grid PNG of a succeeded experiment") String gridUrl,
        @Schema(description = "The job's own URL") String url,
        @Schema(description = "Runs started: 1, or more when the job was taken over after its worker stopped "
                + "(the same seeds run again); 0 while queued", examples = "1") int attempt,
        @Schema(description = "The replica that ran (or runs) the job's last attempt", examples = "sd-guidance-7f9c-1")
        String worker,
        @Schema(description = "The request as the engine runs it (defaults and the seed filled in)")
        RequestEcho request) {

    @Schema(name = "JobProgress", description = "Denoising steps done over all images and generations of the job")
    public record Progress(
            @Schema(description = "Steps done", examples = "12") int step,
            @Schema(description = "Steps in all (steps × images × generations)", examples = "30") int total,
            @Schema(description = "step / total", examples = "0.4") double fraction,
            @Schema(description = "Generations (experiment specs) finished", examples = "0") int generation,
            @Schema(description = "Generations in all (1, or the number of experiment specs)", examples = "1")
            int generations) {
    }

    @Schema(name = "JobError", description = "Why a job ended without images")
    public record JobError(
            @Schema(description = "canceled, shutdown, out_of_memory, engine_error, invalid_request or internal_error",
                    examples = "out_of_memory") String type,
            @Schema(description = "Details", examples = "CUDA out of memory. Tried to allocate 2.00 GiB") String message) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    @Schema(name = "JobImage", description = "One result image")
    public record JobImage(
            @Schema(description = "Index i for GET /v1/jobs/{id}/images/{i}", examples = "0") int index,
            @Schema(description = "URL of the PNG", examples = "/v1/jobs/3f1c2a9e-8d7b-4c1a-9e0f-2b6d5a4c3e21/images/0")
            String url,
            @Schema(description = "Seed", examples = "1234") long seed,
            @Schema(description = "Width", examples = "512") int width,
            @Schema(description = "Height", examples = "512") int height,
            @Schema(description = "The experiment spec's label", examples = "fullnorm cosine") String label) {
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    @Schema(name = "JobRequest", description = "The validated request of a job")
    public record RequestEcho(
            @Schema(description = "Prompt", examples = "a watercolor fox in a snowy forest") String prompt,
            @JsonProperty("negative_prompt") @Schema(description = "Negative prompt (absent when empty)",
                    examples = "blurry") String negativePrompt,
            @Schema(description = "Width in pixels", examples = "512") int width,
            @Schema(description = "Height in pixels", examples = "512") int height,
            @Schema(description = "Denoising steps (the default filled in)", examples = "25") int steps,
            @Schema(description = "Images per generation", examples = "1") int n,
            @Schema(description = "Seed of image 0 (the random one when the request had none)", examples = "1234")
            long seed,
            @Schema(description = "Sampler (absent: the model's own)", examples = "euler") String sampler,
            @JsonProperty("sampler_options") @Schema(type = SchemaType.OBJECT, implementation = Object.class,
                    description = "Sampler overrides", examples = "{\"use_karras_sigmas\": true}")
            JsonNode samplerOptions,
            @Schema(implementation = Object.class, description = "The guidance spec as the engine runs it (an array of "
                    + "specs for experiments), in canonical form: the preset if one was named, the normalizer, every "
                    + "parameter with its default filled in, and the interval unless it is all steps",
                    examples = "{\"preset\": \"FullNormGuidance_Sched_TCos\", \"normalizer\": \"fullnorm\", "
                            + "\"g\": {\"schedule\": \"cosine\", \"max\": 0.25, \"min\": 0.05}}")
            JsonNode guidance,
            @Schema(description = "Experiment labels, one per spec", examples = "[\"plain CFG 7.5\", \"fullnorm\"]")
            List<String> labels,
            @Schema(description = "The model of sd.models.dir it runs on (absent without a models folder)",
                    examples = "sd15") String model,
            @Schema(description = "The LoRAs merged for it (from loras and <lora:…> tags; absent when none)",
                    examples = "[{\"name\": \"pixel-art\", \"weight\": 0.8}]")
            List<LoraEcho> loras,
            @Schema(description = "The high-resolution second pass with its defaults filled in (absent: none)")
            ImageGenerationRequest.HiresRequest hires) {
    }

    @Schema(name = "JobLora", description = "A LoRA merged into the model for the job")
    public record LoraEcho(
            @Schema(description = "LoRA name (GET /v1/loras)", examples = "pixel-art") String name,
            @Schema(description = "Its weight (a name given twice: the weights added up)", examples = "0.8")
            double weight) {
    }
}
