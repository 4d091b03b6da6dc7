package dev.sdcfg.api;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

import java.util.List;

/** An RFC 9457 problem document ({@code application/problem+json}), the body of every 4xx and 5xx answer. */
@JsonInclude(JsonInclude.Include.NON_NULL)
@Schema(name = "Problem", description = "RFC 9457 problem details; every 4xx/5xx answer has this body "
        + "(media type application/problem+json)")
public record Problem(
        @Schema(description = "Problem type URI: urn:sdcfg:problem:<kind> (invalid-request, invalid-json, "
                + "unprocessable-request, not-found, not-finished, method-not-allowed, not-acceptable, "
                + "unsupported-media-type, payload-too-large, queue-full, service-unavailable, generation-failed, canceled, "
                + "internal-error)", examples = "urn:sdcfg:problem:invalid-request", required = true) String type,
        @Schema(description = "Short summary of the problem type", examples = "Invalid request", required = true)
        String title,
        @Schema(description = "The HTTP status code", examples = "400", required = true) int status,
        @Schema(description = "What happened in this occurrence",
                examples = "1 field is invalid: steps: must be between 1 and 150") String detail,
        @Schema(description = "The request path", examples = "/v1/images/generations") String instance,
        @Schema(description = "Field-level errors (empty when the problem is not about a field)", required = true)
        List<FieldError> errors,
        @JsonProperty("job_id") @Schema(description = "The job concerned, when there is one") String jobId,
        @Schema(description = "Model state for 503 answers: loading, failed or stopping", examples = "loading")
        String state) {
}
