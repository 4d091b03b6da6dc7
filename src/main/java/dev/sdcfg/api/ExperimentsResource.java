package dev.sdcfg.api;

import dev.sdcfg.jobs.Job;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sdcfg.jobs.JobKind;
import dev.sdcfg.jobs.JobQueue;
import dev.sdcfg.jobs.JobService;
import dev.sdcfg.jobs.JobTask;
import dev.sdcfg.pipeline.ImageGenerator;
import jakarta.inject.Inject;
import jakarta.ws.rs.Consumes;
import jakarta.ws.rs.HeaderParam;
import jakarta.ws.rs.POST;
import jakarta.ws.rs.Path;
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

/** POST /v1/experiments: one prompt and seed under several guidance specs, as one job. */
@Path("/v1/experiments")
@Tag(name = "experiments", description = "Compare guidance specs on one prompt and seed")
public class ExperimentsResource {

    @Inject
    JobService jobs;

    @Inject
    RequestValidator validator;

    @Inject
    JobViews views;

    @Inject
    ObjectMapper json;

    @POST
    @Consumes(MediaType.APPLICATION_JSON)
    @Produces(MediaType.APPLICATION_JSON)
    @Operation(summary = "Queue a guidance experiment",
            description = "Renders one image per guidance spec with the same prompt, seed, size, steps and sampler, "
                    + "then a grid PNG with each spec's label as title (GET /v1/jobs/{id}/grid). The k generations run "
                    + "one after the other on the worker; DELETE /v1/jobs/{id} stops between them too.")
    @RequestBody(required = true, content = @Content(mediaType = MediaType.APPLICATION_JSON,
            schema = @Schema(implementation = ExperimentRequest.class),
            examples = @ExampleObject(name = "three specs", value = ApiExamples.EXPERIMENT)))
    @APIResponse(responseCode = "202", description = "Queued",
            headers = @Header(name = "Location", description = "URL of the job", schema = @Schema(type = SchemaType.STRING)),
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(implementation = JobView.class),
                    examples = @ExampleObject(name = "succeeded (later)", value = ApiExamples.JOB_SUCCEEDED)))
    @APIResponse(responseCode = "400", description = "Invalid JSON, wrong type, unknown field or value out of range",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class),
                    examples = @ExampleObject(name = "invalid", value = ApiExamples.PROBLEM_400)))
    @APIResponse(responseCode = "415", description = "The body is not application/json",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class)))
    @APIResponse(responseCode = "422", description = "The engine rejects a spec (field guidance[i]…)",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class)))
    @APIResponse(responseCode = "429", description = "The queue is full",
            headers = @Header(name = "Retry-After", description = "Seconds", schema = @Schema(type = SchemaType.INTEGER)),
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class)))
    @APIResponse(responseCode = "503", description = "Model loading, failed to load, or shutting down",
            headers = @Header(name = "Retry-After", description = "Seconds", schema = @Schema(type = SchemaType.INTEGER)),
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class)))
    public Response submit(ExperimentRequest body,
                           @HeaderParam(IdempotencyKeys.HEADER) @Parameter(description = "Optional. A retry with the same key and "
                    + "body returns the first request's job (24 h); the same key with another body is 422. 1..255 "
                    + "visible ASCII characters") String idempotencyKey) {
        RequestValidator.Experiment e = validator.experiment(body);
        JobQueue.Idempotency idem = IdempotencyKeys.of(idempotencyKey, "/v1/experiments", body, json);
        ImageGenerator generator = jobs.requireGenerator();
        List<JobTask> tasks = e.tasks();
        for (int i = 0; i < tasks.size(); i++) {
            validator.engineCheck(generator, tasks.get(i).request(), i);
        }
        Job job = jobs.submit(JobKind.EXPERIMENT, tasks, e.columns(), idem);
        return Response.accepted(views.view(job)).location(URI.create(JobViews.jobUrl(job.id()))).build();
    }
}
