package dev.sdcfg.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.sdcfg.jobs.Job;
import dev.sdcfg.jobs.JobKind;
import dev.sdcfg.jobs.JobService;
import dev.sdcfg.jobs.JobStatus;
import dev.sdcfg.jobs.JobTask;
import dev.sdcfg.pipeline.GenerationRequest;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

/** Builds the JSON views of jobs from consistent snapshots. */
@ApplicationScoped
public class JobViews {

    @Inject
    JobService jobs;

    public static String jobUrl(String id) {
        return "/v1/jobs/" + id;
    }

    public static String imageUrl(String id, int index) {
        return jobUrl(id) + "/images/" + index;
    }

    public JobView view(Job job) {
        Job.Snapshot s = job.snapshot();
        OptionalInt pos = s.status() == JobStatus.QUEUED ? jobs.queuePosition(job) : OptionalInt.empty();
        double fraction = s.stepsTotal() == 0 ? 0 : Math.round(1000.0 * s.stepsDone() / s.stepsTotal()) / 1000.0;
        JobView.Progress progress = new JobView.Progress(s.stepsDone(), s.stepsTotal(), fraction, s.tasksDone(),
                s.tasksTotal());
        List<JobView.JobImage> images = new ArrayList<>();
        for (Job.ImageInfo i : s.images()) {
            images.add(new JobView.JobImage(i.index(), imageUrl(s.id(), i.index()), i.seed(), i.width(), i.height(),
                    i.label()));
        }
        JobView.JobError error = s.errorType() == null && s.errorMessage() == null ? null
                : new JobView.JobError(s.errorType(), s.errorMessage());
        return new JobView(s.id(), "job", s.kind().wire(), s.status().wire(), iso(s.createdAtMillis()),
                iso(s.startedAtMillis()), iso(s.finishedAtMillis()), pos.isPresent() ? pos.getAsInt() : null,
                progress, s.cancelRequested(), s.seeds(), s.warnings(), s.timings(), error, images,
                s.hasGrid() ? jobUrl(s.id()) + "/grid" : null, jobUrl(s.id()), s.attempt(), s.worker(), echo(job));
    }

    /** The request as the engine runs it: the guidance spec and sampler options in their canonical form. */
    private JobView.RequestEcho echo(Job job) {
        List<JobTask> tasks = job.tasks();
        GenerationRequest r = tasks.get(0).request();
        JsonNode guidance;
        List<String> labels = null;
        if (job.kind() == JobKind.EXPERIMENT) {
            ArrayNode arr = JsonNodeFactory.instance.arrayNode();
            labels = new ArrayList<>();
            for (JobTask t : tasks) {
                arr.add(JsonTrees.toJackson(t.request().guidance().toJson()));
                labels.add(t.label());
            }
            guidance = arr;
        } else {
            guidance = JsonTrees.toJackson(r.guidance().toJson());
        }
        JsonNode samplerOptions = r.samplerOptions().isEmpty() ? null : JsonTrees.toJackson(r.samplerOptions().toJson());
        return new JobView.RequestEcho(r.prompt(), r.negativePrompt().isEmpty() ? null : r.negativePrompt(),
                r.width(), r.height(), r.steps(), r.n(), r.seed(), r.sampler(), samplerOptions, guidance, labels,
                r.model(), r.loras().isEmpty() ? null
                        : r.loras().stream().map(l -> new JobView.LoraEcho(l.name(), l.weight())).toList(),
                r.hires() == null ? null : new ImageGenerationRequest.HiresRequest(r.hires().scale(),
                        r.hires().steps(), r.hires().strength(), r.hires().upscaler().value()));
    }

    private static String iso(Long millis) {
        return millis == null ? null : Instant.ofEpochMilli(millis).toString();
    }

    private static String iso(long millis) {
        return Instant.ofEpochMilli(millis).toString();
    }
}
