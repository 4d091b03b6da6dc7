package dev.sdcfg.api;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.databind.JsonNode;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Schema;

import java.util.List;

/** Body of POST /v1/experiments: one prompt and seed under several guidance specs. */
@Schema(name = "ExperimentRequest", description = "One prompt and one seed rendered under several guidance specs: "
        + "one image per spec plus a grid titled with each spec's label. Unknown fields are rejected.")
public record ExperimentRequest(
        @Schema(description = "Text prompt (required)", required = true, maxLength = 2000,
                examples = "a watercolor fox in a snowy forest") String prompt,
        @JsonProperty("negative_prompt") @Schema(description = "Negative prompt", maxLength = 2000) String negativePrompt,
        @Schema(description = "Size \"WxH\" (see ImageGenerationRequest.size)", examples = "512x512") String size,
        @Schema(description = "Width in pixels", examples = "512") Integer width,
        @Schema(description = "Height in pixels", examples = "512") Integer height,
        @Schema(description = "Seed shared by every spec, 0..2^53-1; absent: random (reported back)",
                minimum = "0", maximum = "9007199254740991", examples = "1234") Long seed,
        @Schema(description = "Denoising steps (shared)", minimum = "1", maximum = "150", examples = "30") Integer steps,
        @Schema(description = "Sampler name (shared)", examples = "euler") String sampler,
        @JsonProperty("sampler_options") @Schema(type = SchemaType.OBJECT, implementation = Object.class,
                additionalProperties = Object.class, description = "Sampler overrides (shared)")
        JsonNode samplerOptions,
        @Schema(type = SchemaType.ARRAY, implementation = GuidanceSpecDoc.class, required = true, minItems = 1, maxItems = 12,
                description = "The guidance specs to compare, 1..sd.limits.max-experiment-specs (default 12); each is "
                        + "a number, an object or {\"preset\": name} as in ImageGenerationRequest.guidance",
                examples = "[7.5, {\"normalizer\": \"basenorm\", \"g\": 7.5}, {\"preset\": \"FullNormGuidance_Sched_TCos\"}]")
        List<JsonNode> guidance,
        @Schema(description = "Grid titles, one per spec (default: the spec's short title, e.g. the preset name, "
                + "\"CFG g=7.5\" or \"FullNorm g=cos(0.25→0.05)\"); "
                + "at most 200 characters each", examples = "[\"plain CFG 7.5\", \"basenorm 7.5\", \"fullnorm cosine\"]")
        List<String> labels,
        @Schema(description = "Grid columns (default: all specs in one row up to 4, else about a square)",
                minimum = "1", maximum = "12", examples = "3") Integer columns,
        @JsonProperty("prompt_syntax") @Schema(description = "a1111 (default) or plain, as in "
                + "ImageGenerationRequest.prompt_syntax", enumeration = {"a1111", "plain"}, defaultValue = "a1111")
        String promptSyntax) {
}
