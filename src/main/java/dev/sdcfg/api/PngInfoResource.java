package dev.sdcfg.api;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sdcfg.jobs.JobService;
import dev.sdcfg.pipeline.GenerationInfotext;
import dev.sdcfg.pipeline.image.Infotext;
import dev.sdcfg.pipeline.image.PngEncoder;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.util.Base64;
import java.util.List;
import java.util.Map;

/**
 * POST /v1/png-info: A1111's "PNG Info" — reads the {@code parameters} text of a PNG (this service's or A1111's) and
 * answers the parsed parameters and a request body that regenerates the image.
 */
@Path(PngInfoResource.PATH)
@Tag(name = "images", description = "Synchronous image generation (OpenAI-compatible)")
public class PngInfoResource {

    static final String PATH = "/v1/png-info";

    @Inject
    JobService jobs;

    @Inject
    ObjectMapper json;

    /** The JSON form of the body. */
    @Schema(name = "PngInfoRequest", description = "A PNG as base64 (a data:image/png;base64, prefix is accepted)")
    public record PngInfoRequest(
            @Schema(description = "The PNG, base64", required = true) String image) {
    }

    /** The answer. */
    @Schema(name = "PngInfo", description = "The infotext of a PNG, parsed, and a request that regenerates it")
    public record PngInfo(
            @Schema(description = "The PNG's parameters text as it is") String parameters,
            @Schema(description = "The prompt it names") String prompt,
            @JsonProperty("negative_prompt") @Schema(description = "The negative prompt (empty when none)")
            String negativePrompt,
            @Schema(description = "The key: value pairs of its last line, as A1111's parse_generation_parameters "
                    + "reads them (Size becomes Size-1 and Size-2)") Map<String, String> params,
            @Schema(description = "A body for POST /v1/images/generations that regenerates the image (n = 1, the "
                    + "image's seed); for a PNG of this service with the same model and settings, the same PNG",
                    implementation = ImageGenerationRequest.class) JsonNode request,
            @Schema(description = "What could not be carried over into request") List<String> warnings) {
    }

    @POST
    @Consumes(ImagesResource.PNG)
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Read a PNG's generation parameters (A1111 infotext)", description = "Reads the PNG's "
            + "\"parameters\" text chunk in AUTOMATIC1111's infotext format (prompt, \"Negative prompt: ...\", then "
            + "\"Steps: ..., Sampler: ..., CFG scale: ..., Seed: ..., Size: WxH, ...\") and answers it parsed, with a "
            + "request body that regenerates the image. The body is the PNG itself (image/png) or JSON "
            + "{\"image\": base64}; either at most quarkus.http.limits.max-body-size (8M).")
    @RequestBody(required = true, content = {
            @Content(mediaType = ImagesResource.PNG, schema = @Schema(type = SchemaType.STRING, format = "binary")),
            @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = PngInfoRequest.class))})
    @APIResponse(responseCode = "200", description = "The parameters",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = PngInfo.class)))
    @APIResponse(responseCode = "400", description = "The body is not a PNG (or not base64)",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class)))
    @APIResponse(responseCode = "422", description = "The PNG has no \"parameters\" text",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class)))
    public PngInfo fromPng(byte[] png) {
        return info(png, "");
    }

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Produces(MediaType.APPLICATION_JSON)
    public PngInfo fromJson(PngInfoRequest body) {
        if (body == null || body.image() == null || body.image().isBlank()) {
            throw ProblemException.invalid("image", "required: the PNG as base64");
        }
        String b64 = body.image().strip();
        if (b64.startsWith("data:image/png;base64,")) {
            b64 = b64.substring("data:image/png;base64,".length());
        }
        byte[] png;
        try {
            png = Base64.getMimeDecoder().decode(b64);
        } catch (IllegalArgumentException e) {
            throw ProblemException.invalid("image", "not base64: " + e.getMessage());
        }
        return info(png, "image");
    }

    private PngInfo info(byte[] png, String field) {
        if (png == null || png.length < 8 || (png[0] & 0xff) != 0x89 || png[1] != 'P' || png[2] != 'N' || png[3] != 'G') {
            throw ProblemException.invalid(field, "not a PNG (no PNG signature)");
        }
        Map<String, String> text;
        try {
            text = PngEncoder.readText(png);
        } catch (RuntimeException e) {
            throw ProblemException.invalid(field, "not a readable PNG: " + e.getMessage());
        }
        String parameters = text.get("parameters");
        if (parameters == null) {
            throw ProblemException.unprocessable(field, "the PNG has no \"parameters\" text chunk (keys: "
                    + text.keySet() + ")");
        }
        Infotext.Parsed parsed = Infotext.parse(parameters);
        String defaultSampler = jobs.generator().map(g -> g.modelInfo().defaultSampler()).orElse(null);
        GenerationInfotext.Request request = GenerationInfotext.request(parsed, defaultSampler);
        try {
            return new PngInfo(parameters, parsed.prompt(), parsed.negativePrompt(), parsed.params(),
                    json.readTree(request.body().toString()), request.warnings());
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}
