package dev.sdcfg.api;

import org.eclipse.microprofile.openapi.annotations.media.Schema;

/** One problem with one field of a request. */
@Schema(name = "FieldError", description = "What is wrong with one field of the request")
public record FieldError(
        @Schema(description = "The offending field as a JSON path into the request body (\"\" for the body itself)",
                examples = "guidance.g.max") String field,
        @Schema(description = "What is wrong and what would be accepted",
                examples = "must be a multiple of 8 within 64..1024") String message) {
}
