package dev.sdcfg.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sdcfg.jobs.Job;
import dev.sdcfg.jobs.JobService;
import dev.sdcfg.jobs.JobStatus;
import io.smallrye.mutiny.Multi;
import io.smallrye.mutiny.subscription.MultiEmitter;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import jakarta.ws.rs.sse.OutboundSseEvent;
import jakarta.ws.rs.sse.Sse;
import dev.sdcfg.jobs.ServiceConfig;
import org.jboss.logging.Logger;

import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The event streams of GET /v1/jobs/{id}/events. Each stream follows its job by reading it from the
 * {@link JobService} every {@code sd.events.poll-interval} (in Redis mode a job running on another replica is seen
 * through the progress its worker writes at each lease heartbeat, so Redis traffic is one read per stream and
 * interval), and emits the changes as events. Event ids are derived from the job's state, not from the stream, so
 * they are the same on every replica and {@code Last-Event-ID} resumes anywhere:
 * {@code 0} queued, {@code 1} started, {@code 2 + step} progress (steps over the whole job), {@code 3 + total}
 * the final event ({@code succeeded}, {@code failed} or {@code canceled}, with the job view as data).
 *
 * <p>Jobs that asked for previews ({@code preview_every}) also get {@code preview} events: the job's latest preview
 * ({@link JobService#preview}: the live job in memory mode, a per-job key written at the worker's heartbeats in
 * Redis mode), read only when the job's progress or status changed, and sent when it is newer than the last one this
 * stream sent. Previews carry no event id (they are not replayed one by one: a stream, new or resumed, gets the
 * latest preview once, then each newer one), so Last-Event-ID keeps naming the last state event.
 */
@ApplicationScoped
public class JobEvents {

    private static final Logger LOG = Logger.getLogger(JobEvents.class);

    static final long ID_QUEUED = 0;
    static final long ID_STARTED = 1;

    @Inject
    JobService jobs;

    @Inject
    JobViews views;

    @Inject
    ObjectMapper json;

    @Inject
    ServiceConfig config;

    private final ScheduledExecutorService timer = Executors.newScheduledThreadPool(2, r -> {
        Thread t = new Thread(r, "sd-job-events-" + THREADS.incrementAndGet());
        t.setDaemon(true);
        return t;
    });
    private static final AtomicInteger THREADS = new AtomicInteger();
    private final AtomicInteger open = new AtomicInteger();

    /** Streams open now (their poll and heartbeat tasks are scheduled). */
    public int openStreams() {
        return open.get();
    }

    @PreDestroy
    void stop() {
        timer.shutdownNow();
    }

    /** The stream of a job that exists now; events with an id up to {@code lastEventId} are not sent again. */
    public Multi<OutboundSseEvent> stream(Job first, long lastEventId, Sse sse) {
        return Multi.createFrom().emitter(em -> new Follower(first.id(), lastEventId, sse, em).start());
    }

    /** One stream: a poll task and a heartbeat task, both ended with the stream. */
    private final class Follower {
        private final String id;
        private final Sse sse;
        private final MultiEmitter<? super OutboundSseEvent> em;
        private long lastSent;
        /** Poll thread only: the progress and status at the last preview read, and the last preview's step. */
        private int previewReadAt = -1;
        private JobStatus previewReadStatus;
        private int lastPreviewStep = -1;
        private boolean done;
        private ScheduledFuture<?> poll;
        private ScheduledFuture<?> beat;

        Follower(String id, long lastEventId, Sse sse, MultiEmitter<? super OutboundSseEvent> em) {
            this.id = id;
            this.lastSent = lastEventId;
            this.sse = sse;
            this.em = em;
        }

        void start() {
            em.onTermination(this::cancelTasks);
            long beatMs = Math.max(1, config.events().heartbeat().toMillis());
            long pollMs = Math.max(10, config.events().pollInterval().toMillis());
            synchronized (this) {
                if (done) {
                    return; // the client went away before the stream started
                }
                open.incrementAndGet();
                beat = timer.scheduleAtFixedRate(this::heartbeat, beatMs, beatMs, TimeUnit.MILLISECONDS);
                poll = timer.scheduleWithFixedDelay(this::poll, 0, pollMs, TimeUnit.MILLISECONDS);
            }
        }

        private synchronized void cancelTasks() {
            if (!done && beat != null) {
                open.decrementAndGet();
            }
            done = true;
            if (poll != null) {
                poll.cancel(false);
            }
            if (beat != null) {
                beat.cancel(false);
            }
        }

        private synchronized void heartbeat() {
            if (!done && !em.isCancelled()) {
                em.emit(sse.newEventBuilder().comment("heartbeat").build());
            }
        }

        private void poll() {
            try {
                Optional<Job> job = jobs.find(id);
                Optional<Job.Preview> preview = job.flatMap(this::newPreview);
                synchronized (this) {
                    if (done || em.isCancelled()) {
                        return;
                    }
                    if (job.isEmpty()) { // deleted or evicted: nothing more will come
                        finish();
                        return;
                    }
                    emitChanges(job.get(), preview.orElse(null));
                }
            } catch (RuntimeException e) {
                // a store hiccup (Redis unreachable): try again at the next tick
                LOG.debugf(e, "event stream of job %s: read failed", id);
            }
        }

        /** The job's latest preview when it may have changed since the last read and is newer than the last sent. */
        private Optional<Job.Preview> newPreview(Job job) {
            if (!job.wantsPreviews()) {
                return Optional.empty();
            }
            Job.Snapshot s = job.snapshot();
            if (s.status() == JobStatus.QUEUED || (s.stepsDone() == previewReadAt && s.status() == previewReadStatus)) {
                return Optional.empty();
            }
            previewReadAt = s.stepsDone();
            previewReadStatus = s.status();
            return jobs.preview(id).filter(p -> p.step() > lastPreviewStep);
        }

        private void emitChanges(Job job, Job.Preview preview) {
            Job.Snapshot s = job.snapshot();
            JobStatus status = s.status();
            if (status == JobStatus.QUEUED) {
                if (lastSent < ID_QUEUED) {
                    ObjectNode d = base(s);
                    jobs.queuePosition(job).ifPresent(p -> d.put("queue_position", p));
                    send(ID_QUEUED, "queued", d);
                }
                return;
            }
            if (s.startedAtMillis() != null && lastSent < ID_STARTED) {
                ObjectNode d = base(s);
                d.put("attempt", s.attempt());
                if (s.worker() != null) {
                    d.put("worker", s.worker());
                }
                send(ID_STARTED, "started", d);
            }
            long progressId = ID_STARTED + 1 + s.stepsDone();
            if (s.stepsDone() > 0 && progressId > lastSent && progressId < finalId(s)) {
                send(progressId, "progress", progress(s));
            }
            if (preview != null && preview.step() > lastPreviewStep) {
                em.emit(sse.newEventBuilder().name("preview").data(previewData(s, preview)).build());
                lastPreviewStep = preview.step();
            }
            if (status.isFinal()) {
                if (finalId(s) > lastSent) {
                    send(finalId(s), status.wire(), json.valueToTree(views.view(job)));
                }
                finish();
            }
        }

        private long finalId(Job.Snapshot s) {
            return ID_STARTED + 2 + s.stepsTotal();
        }

        private ObjectNode base(Job.Snapshot s) {
            ObjectNode d = json.createObjectNode();
            d.put("id", s.id());
            d.put("status", s.status().wire());
            return d;
        }

        private ObjectNode progress(Job.Snapshot s) {
            ObjectNode d = base(s);
            int total = Math.max(1, s.stepsTotal());
            double fraction = Math.min(1.0, s.stepsDone() / (double) total);
            d.put("step", s.stepsDone());
            d.put("total", s.stepsTotal());
            d.put("fraction", fraction);
            d.put("generation", s.tasksDone());
            d.put("generations", s.tasksTotal());
            if (s.startedAtMillis() != null && fraction > 0) {
                double elapsed = Math.max(0, System.currentTimeMillis() - s.startedAtMillis()) / 1000.0;
                d.put("eta_seconds", Math.round(elapsed * (1 - fraction) / fraction * 10) / 10.0);
            }
            return d;
        }

        private ObjectNode previewData(Job.Snapshot s, Job.Preview p) {
            ObjectNode d = base(s);
            d.put("step", p.step());
            d.put("total", p.total());
            d.put("generation", p.generation());
            d.put("image", p.image());
            d.put("width", p.width());
            d.put("height", p.height());
            d.put("png_base64", java.util.Base64.getEncoder().encodeToString(p.png()));
            return d;
        }

        private void send(long eventId, String name, Object data) {
            em.emit(sse.newEventBuilder().id(Long.toString(eventId)).name(name).data(data).build());
            lastSent = eventId;
        }

        private void finish() {
            cancelTasks();
            em.complete();
        }
    }
}
