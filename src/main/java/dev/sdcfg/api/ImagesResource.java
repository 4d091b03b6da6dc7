package dev.sdcfg.api;

import dev.sdcfg.jobs.Job;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sdcfg.jobs.JobKind;
import dev.sdcfg.jobs.JobQueue;
import dev.sdcfg.jobs.JobService;
import dev.sdcfg.jobs.JobStatus;
import dev.sdcfg.jobs.JobTask;
import dev.sdcfg.jobs.ServiceConfig;
import dev.sdcfg.pipeline.ImageGenerator;
import io.vertx.core.http.HttpServerRequest;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.core.HttpHeaders;
import jakarta.ws.rs.core.MediaType;
import jakarta.ws.rs.core.Response;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.headers.Header;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.ExampleObject;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.parameters.Parameter;
import org.eclipse.microprofile.openapi.annotations.parameters.RequestBody;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import org.jboss.logging.Logger;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;

/** POST /v1/images/generations: synchronous, OpenAI-shaped generation. */
@Path("/v1/images/generations")
@Tag(name = "images", description = "Synchronous image generation (OpenAI-compatible)")
public class ImagesResource {

    static final String PNG = "image/png";
    private static final Logger LOG = Logger.getLogger(ImagesResource.class);
    /** How often the synchronous wait looks whether its client is still there. */
    private static final Duration DISCONNECT_CHECK = Duration.ofMillis(250);

    @Inject
    JobService jobs;

    @Inject
    Webhooks webhooks;

    @Inject
    RequestValidator validator;

    @Inject
    ServiceConfig config;

    @Inject
    JobViews views;

    @Inject
    ObjectMapper json;

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Produces({MediaType.APPLICATION_JSON, PNG})
    @Operation(summary = "Generate images and wait for them",
            description = "Validates the request, queues it as a job and waits for it up to sd.sync.timeout. "
                    + "With Accept: image/png and n = 1 the answer is the PNG itself; otherwise JSON with base64 PNGs "
                    + "(response_format b64_json) or URLs (url). If the wait times out the answer is 202 with the job's "
                    + "URL in Location: the job goes on and can be followed with GET /v1/jobs/{id}.")
    @RequestBody(required = true, content = @Content(mediaType = MediaType.APPLICATION_JSON,
            schema = @Schema(implementation = ImageGenerationRequest.class),
            examples = {@ExampleObject(name = "full", value = ApiExamples.GENERATION),
                    @ExampleObject(name = "minimal", value = ApiExamples.GENERATION_MINIMAL),
                    @ExampleObject(name = "preset", value = ApiExamples.GENERATION_PRESET)}))
    @APIResponse(responseCode = "200", description = "The images",
            content = {@Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = ImagesResponse.class),
                    examples = @ExampleObject(name = "b64_json", value = ApiExamples.IMAGES_RESPONSE)),
                    @Content(mediaType = PNG, schema = @Schema(type = SchemaType.STRING, format = "binary",
                            description = "The PNG (Accept: image/png, n = 1), with a \"parameters\" tEXt chunk"))},
            headers = @Header(name = "X-Job-Id", description = "The job's id", schema = @Schema(type = SchemaType.STRING)))
    @APIResponse(responseCode = "202", description = "Still running after sd.sync.timeout: follow the Location",
            headers = @Header(name = "Location", description = "URL of the job", schema = @Schema(type = SchemaType.STRING)),
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = JobView.class),
                    examples = @ExampleObject(name = "queued", value = ApiExamples.JOB_QUEUED)))
    @APIResponse(responseCode = "400", description = "Invalid JSON, a wrong type, an unknown field or a value out of range",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class),
                    examples = @ExampleObject(name = "invalid", value = ApiExamples.PROBLEM_400)))
    @APIResponse(responseCode = "406", description = "Accept: image/png with n > 1, or an Accept the service cannot produce",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class)))
    @APIResponse(responseCode = "409", description = "The job was canceled (DELETE /v1/jobs/{id}) before it finished",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class)))
    @APIResponse(responseCode = "415", description = "The body is not application/json",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class),
                    examples = @ExampleObject(name = "unsupported", value = ApiExamples.PROBLEM_415)))
    @APIResponse(responseCode = "422", description = "The engine rejects the request (unknown sampler, normalizer, "
            + "schedule or preset; bad schedule values)",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class),
                    examples = @ExampleObject(name = "unknown normalizer", value = ApiExamples.PROBLEM_422)))
    @APIResponse(responseCode = "429", description = "The queue is full; retry after Retry-After seconds",
            headers = @Header(name = "Retry-After", description = "Seconds", schema = @Schema(type = SchemaType.INTEGER)),
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class),
                    examples = @ExampleObject(name = "queue full", value = ApiExamples.PROBLEM_429)))
    @APIResponse(responseCode = "500", description = "The job failed inside the engine (e.g. out of memory)",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class),
                    examples = @ExampleObject(name = "failed", value = ApiExamples.PROBLEM_500)))
    @APIResponse(responseCode = "503", description = "The model is loading or failed to load, or the service is "
            + "shutting down (the detail says which)",
            headers = @Header(name = "Retry-After", description = "Seconds", schema = @Schema(type = SchemaType.INTEGER)),
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class),
                    examples = @ExampleObject(name = "loading", value = ApiExamples.PROBLEM_503)))
    public Response generate(ImageGenerationRequest body, @Context HttpHeaders headers,
                             @Context HttpServerRequest request,
                             @HeaderParam(IdempotencyKeys.HEADER) @Parameter(description = "Optional. A retry with the same key and "
                    + "body returns the first request's job (24 h); the same key with another body is 422. 1..255 "
                    + "visible ASCII characters") String idempotencyKey)
            throws InterruptedException {
        boolean png = wantsPng(headers);
        RequestValidator.Generation g = validator.generation(body);
        JobQueue.Idempotency idem = IdempotencyKeys.of(idempotencyKey, "/v1/images/generations", body, json);
        Optional<Webhooks.Hook> hook = webhooks.check(body.webhook(), body.webhookEvents());
        if (png && g.request().n() != 1) {
            throw new ProblemException(406, "not-acceptable", "Not acceptable",
                    "Accept: image/png returns exactly one image; use n = 1 or ask for application/json",
                    List.of(new FieldError("n", "must be 1 with Accept: image/png")));
        }
        ImageGenerator generator = jobs.requireGenerator();
        validator.engineCheck(generator, g.request(), -1);
        Job job = jobs.submit(JobKind.GENERATION, List.of(new JobTask(null, g.request())), 1, idem);
        hook.ifPresent(h -> webhooks.watch(job, h));
        Optional<Job> latest = await(job, request);
        if (latest.isEmpty()) {
            throw ProblemException.notFound("job " + job.id() + " was deleted before it finished").job(job.id());
        }
        if (!latest.get().status().isFinal()) {
            return Response.accepted(views.view(latest.get())).location(URI.create(JobViews.jobUrl(job.id())))
                    .type(MediaType.APPLICATION_JSON).build();
        }
        return finished(latest.get(), png, g.responseFormat());
    }

    private Response finished(Job job, boolean png, String format) {
        Job.Snapshot s = job.snapshot();
        if (s.status() == JobStatus.FAILED) {
            throw new ProblemException(500, "generation-failed", "Generation failed",
                    s.errorType() + ": " + s.errorMessage(), List.of()).job(job.id());
        }
        if (s.status() == JobStatus.CANCELED) {
            if ("shutdown".equals(s.errorType())) {
                throw new ProblemException(503, "service-unavailable", "Service unavailable",
                        "the service shut down before the job ran", List.of()).job(job.id()).state("stopping");
            }
            throw new ProblemException(409, "canceled", "Job canceled",
                    "the job was canceled before it finished: " + s.errorMessage(), List.of()).job(job.id());
        }
        List<Job.ImageInfo> images = s.images();
        if (png) {
            return Response.ok(pngOf(job, 0), PNG).header("X-Job-Id", job.id())
                    .header("X-Seed", Long.toString(images.get(0).seed())).build();
        }
        List<ImagesResponse.Image> data = new ArrayList<>();
        Base64.Encoder b64 = Base64.getEncoder();
        boolean url = "url".equals(format);
        for (Job.ImageInfo img : images) {
            data.add(new ImagesResponse.Image(url ? null : b64.encodeToString(pngOf(job, img.index())),
                    url ? JobViews.imageUrl(job.id(), img.index()) : null, img.seed(), img.width(), img.height()));
        }
        List<Long> seeds = new ArrayList<>();
        for (Job.ImageInfo img : images) {
            seeds.add(img.seed());
        }
        return Response.ok(new ImagesResponse(s.createdAtMillis() / 1000, job.id(), data, seeds, s.warnings(),
                s.timings()), MediaType.APPLICATION_JSON).header("X-Job-Id", job.id()).build();
    }

    /**
     * Waits for the job (it may run on another replica) up to sd.sync.timeout, in slices, so that a client that
     * hangs up does not leave its job running for nobody: the job is canceled (queued: at once; running: before its
     * next step).
     */
    private Optional<Job> await(Job job, HttpServerRequest request) throws InterruptedException {
        long deadline = System.nanoTime() + config.sync().timeout().toNanos();
        Optional<Job> latest = Optional.of(job);
        while (latest.isPresent() && !latest.get().status().isFinal()) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                break;
            }
            latest = jobs.awaitFinal(job, Duration.ofNanos(Math.min(left, DISCONNECT_CHECK.toNanos())));
            if (request != null && request.response().closed() && latest.isPresent()
                    && !latest.get().status().isFinal()) {
                LOG.infof("Client of job %s hung up before it finished: canceling it", job.id());
                jobs.cancel(job.id());
                return latest;
            }
        }
        return latest;
    }

    private byte[] pngOf(Job job, int index) {
        return jobs.image(job.id(), index).orElseThrow(() -> ProblemException.notFound(
                "the images of job " + job.id() + " expired or were deleted").job(job.id()));
    }

    /** True when the client prefers image/png over JSON (Accept order and q-values; * / * means JSON). */
    static boolean wantsPng(HttpHeaders headers) {
        for (MediaType m : headers.getAcceptableMediaTypes()) {
            if (m.isWildcardType()) {
                return false;
            }
            if (m.getType().equalsIgnoreCase("image") && (m.isWildcardSubtype() || m.getSubtype().equalsIgnoreCase("png"))) {
                return true;
            }
            if (m.getType().equalsIgnoreCase("application") && (m.isWildcardSubtype()
                    || m.getSubtype().equalsIgnoreCase("json"))) {
                return false;
            }
        }
        return false;
    }
}
