package dev.sdcfg.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

import java.util.List;
import java.util.Map;

/** Answer of POST /v1/images/generations (JSON): OpenAI's shape plus seeds, warnings and timings. */
@Schema(name = "ImagesResponse", description = "Generated images (OpenAI-shaped) plus the seeds, warnings and "
        + "stage timings of the job")
public record ImagesResponse(
        @Schema(description = "Unix time (seconds) when the job was created", examples = "1767225600") long created,
        @Schema(description = "The job's id (GET /v1/jobs/{id} works until it is evicted)") String id,
        @Schema(description = "One entry per image") List<Image> data,
        @Schema(description = "Seed of each image") List<Long> seeds,
        @Schema(description = "Notes such as a prompt cut at 77 tokens") List<String> warnings,
        @Schema(description = "Stage timings in milliseconds (queue_wait_ms, run_ms and the engine's stages)")
        Map<String, Double> timings) {

    @JsonInclude(JsonInclude.Include.NON_NULL)
    @Schema(name = "ImageData", description = "One image: base64 PNG (response_format b64_json) or a URL")
    public record Image(
            @JsonProperty("b64_json") @Schema(description = "Base64 PNG with a \"parameters\" tEXt chunk")
            String b64Json,
            @Schema(description = "Relative URL of the PNG (response_format url)",
                    examples = "/v1/jobs/3f1c2a9e-8d7b-4c1a-9e0f-2b6d5a4c3e21/images/0") String url,
            @Schema(description = "Seed of this image", examples = "1234") long seed,
            @Schema(description = "Width in pixels", examples = "512") int width,
            @Schema(description = "Height in pixels", examples = "512") int height) {
    }
}
