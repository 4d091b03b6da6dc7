package dev.sdcfg.api;

import dev.sdcfg.jobs.Job;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sdcfg.jobs.JobKind;
import dev.sdcfg.jobs.JobQueue;
import dev.sdcfg.jobs.JobService;
import dev.sdcfg.jobs.JobStatus;
import dev.sdcfg.jobs.JobTask;
import dev.sdcfg.pipeline.ImageGenerator;
import io.smallrye.common.annotation.Blocking;
import io.smallrye.mutiny.Multi;
import jakarta.inject.Inject;
import jakarta.ws.rs.core.Context;
import jakarta.ws.rs.sse.OutboundSseEvent;
import jakarta.ws.rs.sse.Sse;
import org.jboss.resteasy.reactive.RestStreamElementType;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.DELETE;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.PathParam;
import jakarta.ws.rs.Produces;
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

import java.net.URI;
import java.util.List;
import java.util.Optional;

/** Asynchronous jobs: submit, follow, fetch images, cancel. */
@Path("/v1/jobs")
@Tag(name = "jobs", description = "Asynchronous generation jobs")
public class JobsResource {

    @Inject
    JobService jobs;

    @Inject
    Webhooks webhooks;

    @Inject
    RequestValidator validator;

    @Inject
    JobViews views;

    @Inject
    ObjectMapper json;

    @Inject
    JobEvents events;

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Queue a generation job",
            description = "Same body as POST /v1/images/generations (response_format is ignored). Answers at once "
                    + "with 202, the job in the body and its URL in Location. With `Accept: text/event-stream` the "
                    + "answer is instead 200 and the new job's event stream, exactly as GET /v1/jobs/{id}/events "
                    + "sends it (Location names the job); the request is checked the same way first, so errors are "
                    + "the same problem documents.")
    @RequestBody(required = true, content = @Content(mediaType = MediaType.APPLICATION_JSON,
            schema = @Schema(implementation = ImageGenerationRequest.class),
            examples = {@ExampleObject(name = "full", value = ApiExamples.GENERATION),
                    @ExampleObject(name = "minimal", value = ApiExamples.GENERATION_MINIMAL)}))
    @APIResponse(responseCode = "202", description = "Queued",
            headers = @Header(name = "Location", description = "URL of the job", schema = @Schema(type = SchemaType.STRING)),
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = JobView.class),
                    examples = @ExampleObject(name = "queued", value = ApiExamples.JOB_QUEUED)))
    @APIResponse(responseCode = "200", description = "Accept: text/event-stream: queued, and the job's events "
            + "follow (queued, started, progress, preview, then succeeded, failed or canceled; see "
            + "GET /v1/jobs/{id}/events)",
            headers = @Header(name = "Location", description = "URL of the job", schema = @Schema(type = SchemaType.STRING)),
            content = @Content(mediaType = MediaType.SERVER_SENT_EVENTS, schema = @Schema(type = SchemaType.STRING),
                    examples = @ExampleObject(name = "events", value = ApiExamples.JOB_EVENTS)))
    @APIResponse(responseCode = "400", description = "Invalid JSON, wrong type, unknown field or value out of range",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class),
                    examples = @ExampleObject(name = "invalid", value = ApiExamples.PROBLEM_400)))
    @APIResponse(responseCode = "415", description = "The body is not application/json",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class),
                    examples = @ExampleObject(name = "unsupported", value = ApiExamples.PROBLEM_415)))
    @APIResponse(responseCode = "422", description = "The engine rejects the request",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class),
                    examples = @ExampleObject(name = "unknown normalizer", value = ApiExamples.PROBLEM_422)))
    @APIResponse(responseCode = "429", description = "The queue is full",
            headers = @Header(name = "Retry-After", description = "Seconds", schema = @Schema(type = SchemaType.INTEGER)),
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class),
                    examples = @ExampleObject(name = "queue full", value = ApiExamples.PROBLEM_429)))
    @APIResponse(responseCode = "503", description = "Model loading, failed to load, or shutting down",
            headers = @Header(name = "Retry-After", description = "Seconds", schema = @Schema(type = SchemaType.INTEGER)),
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class),
                    examples = @ExampleObject(name = "loading", value = ApiExamples.PROBLEM_503)))
    public Response submit(ImageGenerationRequest body,
                           @HeaderParam(IdempotencyKeys.HEADER) @Parameter(description = "Optional. A retry with the same key and "
                    + "body returns the first request's job (24 h); the same key with another body is 422. 1..255 "
                    + "visible ASCII characters") String idempotencyKey,
                           @Context jakarta.ws.rs.core.HttpHeaders headers) {
        // with two POST methods (this one and the event stream) Quarkus REST hands an Accept that neither produces
        // to this one: answer 406 here, as the router did while there was one
        if (headers.getAcceptableMediaTypes().stream().noneMatch(m -> m.isCompatible(MediaType.APPLICATION_JSON_TYPE))) {
            throw new jakarta.ws.rs.NotAcceptableException();
        }
        Job job = accept(body, idempotencyKey);
        return Response.accepted(views.view(job)).location(URI.create(JobViews.jobUrl(job.id()))).build();
    }

    /**
     * POST /v1/jobs with {@code Accept: text/event-stream}: the same submission (same checks, same 4xx problems
     * before anything is streamed), answered with the new job's event stream instead of 202 + the job view.
     */
    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Produces(MediaType.SERVER_SENT_EVENTS)
    @RestStreamElementType(MediaType.APPLICATION_JSON)
    @Blocking // the submission may be a Redis call
    @Operation(hidden = true) // documented on the application/json operation (one operation per method and path)
    public Multi<OutboundSseEvent> submitAndStream(ImageGenerationRequest body,
            @HeaderParam(IdempotencyKeys.HEADER) String idempotencyKey, @Context Sse sse,
            @Context io.vertx.core.http.HttpServerResponse response) {
        Job job = accept(body, idempotencyKey);
        response.putHeader("Location", JobViews.jobUrl(job.id())); // sent with the stream's first bytes
        return events.stream(job, -1, sse);
    }

    /** Checks and enqueues a job (and its webhook): what both forms of POST /v1/jobs do before they answer. */
    private Job accept(ImageGenerationRequest body, String idempotencyKey) {
        RequestValidator.Generation g = validator.generation(body);
        JobQueue.Idempotency idem = IdempotencyKeys.of(idempotencyKey, "/v1/jobs", body, json);
        Optional<Webhooks.Hook> hook = webhooks.check(body.webhook(), body.webhookEvents());
        ImageGenerator generator = jobs.requireGenerator();
        validator.engineCheck(generator, g.request(), -1);
        Job job = jobs.submit(JobKind.GENERATION, List.of(new JobTask(null, g.request(), PreviewEvery.of(body))), 1,
                idem);
        hook.ifPresent(h -> webhooks.watch(job, h));
        return job;
    }

    @GET
    @Path("/{id}")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Get a job", description = "Status (queued, running, succeeded, failed, canceled), progress, "
            + "queue position, timings, seeds, warnings, error and image URLs. Finished jobs are kept for sd.jobs.ttl "
            + "and at most sd.jobs.max-retained of them.")
    @APIResponse(responseCode = "200", description = "The job",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = JobView.class),
                    examples = {@ExampleObject(name = "queued", value = ApiExamples.JOB_QUEUED),
                            @ExampleObject(name = "succeeded", value = ApiExamples.JOB_SUCCEEDED)}))
    @APIResponse(responseCode = "404", description = "Unknown or evicted job",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class),
                    examples = @ExampleObject(name = "unknown", value = ApiExamples.PROBLEM_404)))
    public JobView get(@PathParam("id") @Parameter(description = "Job id") String id) {
        return views.view(find(id));
    }

    @GET
    @Path("/{id}/events")
    @Produces(MediaType.SERVER_SENT_EVENTS)
    @RestStreamElementType(MediaType.APPLICATION_JSON)
    @Blocking // the first look-up may be a Redis call; the stream itself is fed from JobEvents' own threads
    @Operation(summary = "Follow a job as Server-Sent Events",
            description = "A text/event-stream of the job's life: `queued` (queue_position), `started` (attempt, "
                    + "worker), `progress` (step, total, fraction, eta_seconds, generation, generations; sent as the "
                    + "job advances, at most once per sd.events.poll-interval, and in Redis mode at each lease "
                    + "heartbeat of the replica that runs it), then one final event, `succeeded` (the job view "
                    + "with its image URLs), `failed` or `canceled` (the job view with its error), after which the "
                    + "stream ends. Every event has an id derived from the job's state (0 queued, 1 started, "
                    + "2 + step progress, 3 + total the final event), the same on every replica: reconnect with "
                    + "`Last-Event-ID` to receive only later events. Jobs submitted with preview_every also get "
                    + "`preview` events (step, total, generation, image, width, height, png_base64: a PNG of the "
                    + "latent's size, width/8 × height/8, of the current denoised estimate through A1111's \"Approx "
                    + "cheap\" latent→RGB projection); they carry no id: a stream, new or resumed, gets the latest "
                    + "preview once and then each newer one (in Redis mode as of the running replica's last "
                    + "heartbeat). A `: heartbeat` comment is sent every "
                    + "sd.events.heartbeat (15 s). Works for jobs run on any replica.")
    @APIResponse(responseCode = "200", description = "The event stream",
            content = @Content(mediaType = MediaType.SERVER_SENT_EVENTS,
                    schema = @Schema(type = SchemaType.STRING),
                    examples = @ExampleObject(name = "events", value = ApiExamples.JOB_EVENTS)))
    @APIResponse(responseCode = "404", description = "Unknown or evicted job",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class),
                    examples = @ExampleObject(name = "unknown", value = ApiExamples.PROBLEM_404)))
    public Multi<OutboundSseEvent> events(@PathParam("id") @Parameter(description = "Job id") String id,
                                          @HeaderParam("Last-Event-ID") @Parameter(description = "Optional. The id "
                                                  + "of the last event received: only later events are sent")
                                          String lastEventId,
                                          @Context Sse sse) {
        Job job = find(id);
        return events.stream(job, parseEventId(lastEventId), sse);
    }

    /** The Last-Event-ID as a number; absent or not one of this stream's ids: -1 (everything is sent). */
    static long parseEventId(String header) {
        if (header == null || header.isBlank() || header.length() > 19) {
            return -1;
        }
        try {
            return Math.max(-1, Long.parseLong(header.trim()));
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    @GET
    @Path("/{id}/images/{index}")
    @Produces(ImagesResource.PNG)
    @Operation(summary = "Get one image of a succeeded job", description = "The PNG (with a \"parameters\" tEXt chunk).")
    @APIResponse(responseCode = "200", description = "The PNG",
            content = @Content(mediaType = ImagesResource.PNG, schema = @Schema(type = SchemaType.STRING, format = "binary")))
    @APIResponse(responseCode = "404", description = "Unknown job or no image with that index",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class),
                    examples = @ExampleObject(name = "unknown", value = ApiExamples.PROBLEM_404)))
    @APIResponse(responseCode = "409", description = "The job has not succeeded (queued, running, failed or canceled)",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class),
                    examples = @ExampleObject(name = "running", value = ApiExamples.PROBLEM_409)))
    public Response image(@PathParam("id") @Parameter(description = "Job id") String id,
                          @PathParam("index") @Parameter(description = "Image index, 0-based") int index) {
        Job job = find(id);
        requireSucceeded(job, "images");
        Optional<byte[]> img = index < 0 || index >= job.snapshot().images().size() ? Optional.empty()
                : jobs.image(id, index);
        if (img.isEmpty()) {
            throw ProblemException.notFound("job " + id + " has " + job.snapshot().images().size()
                    + " image(s); no index " + index).job(id);
        }
        return png(img.get(), id + "-" + index + ".png");
    }

    @GET
    @Path("/{id}/grid")
    @Produces(ImagesResource.PNG)
    @Operation(summary = "Get the grid of a succeeded experiment",
            description = "All images of an experiment side by side, each titled with its spec's label.")
    @APIResponse(responseCode = "200", description = "The grid PNG",
            content = @Content(mediaType = ImagesResource.PNG, schema = @Schema(type = SchemaType.STRING, format = "binary")))
    @APIResponse(responseCode = "404", description = "Unknown job, or not an experiment",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class)))
    @APIResponse(responseCode = "409", description = "The experiment has not succeeded",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class)))
    public Response grid(@PathParam("id") @Parameter(description = "Job id") String id) {
        Job job = find(id);
        if (job.kind() != JobKind.EXPERIMENT) {
            throw ProblemException.notFound("job " + id + " is not an experiment: it has no grid").job(id);
        }
        requireSucceeded(job, "the grid");
        return png(jobs.grid(id).orElseThrow(() -> unknown(id)), id + "-grid.png");
    }

    @DELETE
    @Path("/{id}")
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Cancel or delete a job",
            description = "A queued job is canceled at once (200). A running job stops before its next denoising "
                    + "step, or between the generations of an experiment (202; follow the job to see it canceled). "
                    + "A finished job is deleted with its images (204).")
    @APIResponse(responseCode = "200", description = "Was queued: canceled now",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = JobView.class)))
    @APIResponse(responseCode = "202", description = "Running: cancellation requested",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = JobView.class)))
    @APIResponse(responseCode = "204", description = "Was finished: deleted")
    @APIResponse(responseCode = "404", description = "Unknown or evicted job",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class),
                    examples = @ExampleObject(name = "unknown", value = ApiExamples.PROBLEM_404)))
    public Response cancel(@PathParam("id") @Parameter(description = "Job id") String id) {
        find(id);
        Job.CancelOutcome outcome = jobs.cancel(id).orElseThrow(() -> unknown(id));
        // read it again: a job from a shared store is a snapshot taken before the cancel
        Job job = jobs.find(id).orElseThrow(() -> unknown(id));
        switch (outcome) {
            case CANCELED:
                return Response.ok(views.view(job)).build();
            case CANCEL_REQUESTED:
                return Response.accepted(views.view(job)).build();
            default:
                jobs.delete(id);
                return Response.noContent().build();
        }
    }

    private Job find(String id) {
        return jobs.find(id).orElseThrow(() -> unknown(id));
    }

    private static ProblemException unknown(String id) {
        return ProblemException.notFound("no job " + id + " (unknown, or evicted after its retention time)");
    }

    private static void requireSucceeded(Job job, String what) {
        JobStatus s = job.status();
        if (s != JobStatus.SUCCEEDED) {
            String detail = s.isFinal()
                    ? "job " + job.id() + " is " + s.wire() + ": it has no " + what
                    : "job " + job.id() + " is " + s.wire() + "; " + what + " are available once it succeeded";
            throw new ProblemException(409, "not-finished", "Job not finished", detail, List.of()).job(job.id());
        }
    }

    private static Response png(byte[] bytes, String filename) {
        return Response.ok(bytes, ImagesResource.PNG)
                .header("Content-Disposition", "inline; filename=\"" + filename + "\"")
                .header("Cache-Control", "private, max-age=300")
                .build();
    }
}
