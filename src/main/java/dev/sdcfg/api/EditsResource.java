package dev.sdcfg.api;

import dev.sdcfg.jobs.ServiceConfig;
import dev.sdcfg.pipeline.InitImage;
import dev.sdcfg.pipeline.InvalidRequestException;
import dev.sdcfg.pipeline.image.PngEncoder;
import io.vertx.core.http.HttpServerRequest;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;
import org.jboss.resteasy.reactive.RestForm;
import org.jboss.resteasy.reactive.multipart.FileUpload;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * POST /v1/images/edits: OpenAI's image-edit request (multipart/form-data), run as inpainting. OpenAI's mask
 * semantics: the fully transparent pixels of {@code mask} (or, without a mask, of {@code image}) are edited, the
 * rest kept. The form becomes an {@link ImageGenerationRequest} with {@code init_image} and {@code mask} and takes
 * the path of POST /v1/images/generations (same checks, queue, wait and answer); error fields are the form's
 * ({@code image} for {@code init_image}). The JSON route's inpainting options (strength, mask_blur, inpaint_full_res,
 * inpaint_full_res_padding, masked_content) are form fields of the same names: only their text is parsed here,
 * their rules are {@link RequestValidator}'s.
 */
@Path(EditsResource.PATH)
@Tag(name = "images")
public class EditsResource {

    static final String PATH = "/v1/images/edits";
    /** A form number: JSON's decimal syntax (not Java's NaN, Infinity, hex or 1d forms). */
    private static final Pattern DECIMAL = Pattern.compile("[-+]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][-+]?[0-9]+)?");

    @Inject
    ImagesResource images;

    @Inject
    ServiceConfig config;

    @POST
    @Consumes(MediaType.MULTIPART_FORM_DATA)
    @Produces({MediaType.APPLICATION_JSON, ImagesResource.PNG})
    @Operation(summary = "Edit an image (OpenAI-shaped inpainting)",
            description = "multipart/form-data: image (PNG, JPEG or WebP file, told by its content; required), mask (PNG "
                    + "or WebP with alpha, optional: "
                    + "fully transparent pixels are edited; without it the image's own transparent pixels are; the "
                    + "image's embedded colour profile is converted to sRGB), "
                    + "prompt (required), n, size (must equal the image's size when given), response_format, and "
                    + "optionally negative_prompt, steps, seed, sampler and the inpainting options of POST "
                    + "/v1/images/generations: strength, mask_blur, inpaint_full_res, inpaint_full_res_padding, "
                    + "masked_content (same rules, same errors); model and user are ignored. Runs as inpainting "
                    + "(diffusers' StableDiffusionInpaintPipeline, strength 1 by default) and answers like POST "
                    + "/v1/images/generations.")
    @APIResponse(responseCode = "200", description = "The images, as POST /v1/images/generations answers",
            content = @Content(mediaType = MediaType.APPLICATION_JSON,
                    schema = @Schema(implementation = ImagesResponse.class)))
    @APIResponse(responseCode = "400", description = "A missing or malformed form field, or one out of its range "
            + "(e.g. mask_blur -1, strength 1.5, masked_content not one of its four values)",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class)))
    @APIResponse(responseCode = "415", description = "The body is not multipart/form-data",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class)))
    @APIResponse(responseCode = "422", description = "An image that cannot be used (format, size, no transparency "
            + "and no mask, mask size) or a request the engine rejects",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class)))
    @APIResponse(responseCode = "429", description = "The queue is full; retry after Retry-After seconds",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class)))
    @APIResponse(responseCode = "503", description = "The model is loading or failed to load, or the service is "
            + "shutting down", content = @Content(mediaType = ProblemMappers.PROBLEM_JSON,
            schema = @Schema(implementation = Problem.class)))
    public Response edit(@RestForm FileUpload image, @RestForm FileUpload mask, @RestForm String prompt,
                         @RestForm("negative_prompt") String negativePrompt, @RestForm String n,
                         @RestForm String size, @RestForm("response_format") String responseFormat,
                         @RestForm String steps, @RestForm String seed, @RestForm String sampler,
                         @RestForm @Schema(type = SchemaType.NUMBER, minimum = "0", maximum = "1",
                                 defaultValue = "1", description = "How much of the schedule re-draws the edited "
                                 + "area, 0..1 (default 1: from pure noise); as strength of POST "
                                 + "/v1/images/generations: only the last int(steps × strength) steps run")
                         String strength,
                         @RestForm(InitImageField.MASK_BLUR) @Schema(type = SchemaType.INTEGER, minimum = "0",
                                 maximum = "64", defaultValue = "0", description = "Blur the edit mask by this many "
                                 + "pixels first, 0..64 (default 0), as mask_blur of POST /v1/images/generations "
                                 + "(PIL's GaussianBlur; rounds the area's corners, and feathers the paste-back "
                                 + "with inpaint_full_res)")
                         String maskBlur,
                         @RestForm(InitImageField.FULL_RES) @Schema(type = SchemaType.BOOLEAN, defaultValue = "false",
                                 description = "true: inpaint only the area to edit (A1111's \"only masked\"): its "
                                 + "box, grown by inpaint_full_res_padding, is re-drawn at the full size and pasted "
                                 + "back, as inpaint_full_res of POST /v1/images/generations")
                         String inpaintFullRes,
                         @RestForm(InitImageField.FULL_RES_PADDING) @Schema(type = SchemaType.INTEGER, minimum = "0",
                                 maximum = "256", defaultValue = "32", description = "With inpaint_full_res true: "
                                 + "pixels added around the area's bounding box, 0..256 (default 32, A1111's)")
                         String inpaintFullResPadding,
                         @RestForm(InitImageField.MASKED_CONTENT) @Schema(enumeration = {"original", "fill",
                                 "latent_noise", "latent_nothing"}, defaultValue = "original", description = "What "
                                 + "the area to edit starts from (A1111's \"Masked content\"), as masked_content of "
                                 + "POST /v1/images/generations; the latent modes only matter below strength 1")
                         String maskedContent,
                         @RestForm String model, @RestForm String user, @Context HttpHeaders headers,
                         @Context HttpServerRequest request) throws InterruptedException {
        List<FieldError> errors = new ArrayList<>();
        byte[] imageBytes = file("image", image, true, errors);
        byte[] maskBytes = file("mask", mask, false, errors);
        Integer count = integer("n", n, errors);
        Integer stepCount = integer("steps", steps, errors);
        Long seedValue = seed == null || seed.isBlank() ? null : longValue(seed, errors);
        Double strengthValue = number("strength", strength, errors);
        Integer blur = integer(InitImageField.MASK_BLUR, maskBlur, errors);
        Boolean fullRes = bool(InitImageField.FULL_RES, inpaintFullRes, errors);
        Integer padding = integer(InitImageField.FULL_RES_PADDING, inpaintFullResPadding, errors);
        if (!errors.isEmpty()) {
            throw ProblemException.invalid(errors);
        }
        InitImage editMask = editMask(imageBytes, maskBytes);
        Base64.Encoder b64 = Base64.getEncoder();
        ImageGenerationRequest body = new ImageGenerationRequest(prompt, negativePrompt, count, blankToNull(size),
                null, null, blankToNull(responseFormat), seedValue, stepCount, blankToNull(sampler), null, null,
                model, user, null, null, null, b64.encodeToString(imageBytes), strengthValue,
                b64.encodeToString(PngEncoder.encodeRgb(editMask.rgb(), editMask.width(), editMask.height(),
                        Map.of())), blur, fullRes, padding, blankToNull(maskedContent), null, null, null, null, null,
                null);
        try {
            return images.generate(body, headers, request, null);
        } catch (ProblemException e) {
            throw formFields(e);
        }
    }

    /** The mask's (or, without one, the image's) transparent pixels as a white-is-repaint mask. */
    private InitImage editMask(byte[] imageBytes, byte[] maskBytes) {
        String field = maskBytes != null ? "mask" : "image";
        try {
            InitImage m = InitImage.transparentAreas(maskBytes != null ? maskBytes : imageBytes, field,
                    config.limits().maxPixels());
            if (m == null) {
                throw ProblemException.unprocessable(field, maskBytes != null
                        ? "mask has no alpha channel: its fully transparent pixels say what to edit"
                        : "image has no transparent pixels to edit and no mask was given");
            }
            return m;
        } catch (InvalidRequestException e) {
            throw ProblemException.unprocessable(e.field(), e.getMessage());
        }
    }

    /** The generation path names init_image; the form calls it image. */
    private static ProblemException formFields(ProblemException e) {
        if (e.errors().stream().noneMatch(f -> InitImageField.FIELD.equals(f.field()))) {
            return e;
        }
        List<FieldError> renamed = new ArrayList<>();
        for (FieldError f : e.errors()) {
            renamed.add(InitImageField.FIELD.equals(f.field()) ? new FieldError("image",
                    f.message().replace(InitImageField.FIELD, "image")) : f);
        }
        String detail = e.getMessage() == null ? null : e.getMessage().replace(InitImageField.FIELD, "image");
        return new ProblemException(e.status(), e.kind(), e.title(), detail, renamed);
    }

    private static byte[] file(String field, FileUpload upload, boolean required, List<FieldError> errors) {
        if (upload == null || upload.uploadedFile() == null) {
            if (required) {
                errors.add(new FieldError(field, "required: a file part"));
            }
            return null;
        }
        try {
            byte[] b = Files.readAllBytes(upload.uploadedFile());
            if (b.length == 0) {
                errors.add(new FieldError(field, "is empty"));
                return null;
            }
            return b;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Integer integer(String field, String value, List<FieldError> errors) {
        if (value == null || value.isBlank()) {
            return null;
        }
        try {
            return Integer.valueOf(value.strip());
        } catch (NumberFormatException e) {
            errors.add(new FieldError(field, "must be an integer, got '" + value + "'"));
            return null;
        }
    }

    /** A finite decimal number. */
    private static Double number(String field, String value, List<FieldError> errors) {
        if (value == null || value.isBlank()) {
            return null;
        }
        String v = value.strip();
        if (!DECIMAL.matcher(v).matches()) {
            errors.add(new FieldError(field, "must be a number, got '" + value + "'"));
            return null;
        }
        double d = Double.parseDouble(v);
        if (!Double.isFinite(d)) {
            errors.add(new FieldError(field, "must be a finite number, got '" + value + "'"));
            return null;
        }
        return d;
    }

    /** true or false (any case), as form encoders write booleans. */
    private static Boolean bool(String field, String value, List<FieldError> errors) {
        if (value == null || value.isBlank()) {
            return null;
        }
        String v = value.strip();
        if (v.equalsIgnoreCase("true") || v.equalsIgnoreCase("false")) {
            return Boolean.valueOf(v);
        }
        errors.add(new FieldError(field, "must be true or false, got '" + value + "'"));
        return null;
    }

    private static Long longValue(String value, List<FieldError> errors) {
        try {
            return Long.valueOf(value.strip());
        } catch (NumberFormatException e) {
            errors.add(new FieldError("seed", "must be an integer, got '" + value + "'"));
            return null;
        }
    }

    private static String blankToNull(String s) {
        return s == null || s.isBlank() ? null : s;
    }
}
