package dev.sdcfg.api;

import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

import java.util.List;

/**
 * Documentation only: the object form of a guidance spec as the OpenAPI document shows it. Requests carry the
 * spec as free JSON ({@code guidance}), parsed and checked by the engine; GET /v1/guidance is the authority on
 * names and ranges.
 */
@Schema(name = "GuidanceSpec", description = "Guidance as an object. A bare number instead means plain CFG with "
        + "that constant scale. Parameters besides these (φ for rescale; η, norm threshold, momentum for apg; …) are "
        + "listed by GET /v1/guidance; each parameter may be a number, a schedule object or one value per step.",
        additionalProperties = Object.class)
record GuidanceSpecDoc(
        @Schema(description = "A named preset (GET /v1/guidance, e.g. the notebook's experiments)",
                examples = "FullNormGuidance_Sched_TCos") String preset,
        @Schema(description = "How the unconditional and conditional predictions are mixed",
                enumeration = {"none", "basenorm", "tnorm", "fullnorm", "rescale", "apg", "cfg-zero-star"},
                examples = "fullnorm") String normalizer,
        @Schema(description = "The guidance scale g: a number, a schedule object, or an array with one value per step",
                oneOf = {Double.class, ScheduleDoc.class, double[].class},
                examples = "{\"schedule\": \"cosine\", \"max\": 0.25, \"min\": 0.05}") Object g,
        @Schema(type = SchemaType.ARRAY, minItems = 2, maxItems = 2, description = "[start, end) as fractions of the "
                + "steps; outside it guidance is off and the unconditional UNet pass is skipped",
                examples = "[0.1, 0.8]") List<Double> interval) {

    @Schema(name = "GuidanceSchedule", description = "A per-step schedule of a guidance parameter; the kinds and "
            + "their parameters are listed by GET /v1/guidance", additionalProperties = Object.class)
    record ScheduleDoc(
            @Schema(description = "Schedule kind", required = true,
                    examples = "cosine") String schedule,
            @Schema(description = "e.g. the start value of cosine", examples = "0.25") Double max,
            @Schema(description = "e.g. the end value of cosine", examples = "0.05") Double min) {
    }
}
