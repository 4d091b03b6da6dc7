package dev.sdcfg.api;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sdcfg.jobs.Job;
import dev.sdcfg.jobs.JobService;
import dev.sdcfg.jobs.JobStatus;
import dev.sdcfg.jobs.ServiceConfig;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.annotation.PostConstruct;
import jakarta.annotation.PreDestroy;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Webhooks of jobs: checked at submission ({@link #check}), then the job is watched from this replica (it reads the
 * job every {@code sd.events.poll-interval}, so a job run on another replica is followed through the shared store)
 * and each wanted event is handed to a bounded sender pool (never the generation thread) that POSTs the job view,
 * signed as Standard Webhooks, with a timeout per try and up to {@code sd.webhooks.tries} tries with doubling
 * backoff. Outcomes are counted in {@code sd_webhook_deliveries_total{outcome}}: delivered, retried, failed, dropped
 * (the sender's queue was full).
 *
 * <p>Order: a job's deliveries go one at a time through its {@link Lane}, in the order of their events; the next
 * one starts when the one before was delivered or finally failed (its retries hold the later events back). A
 * {@code progress} event waiting behind a slow delivery is replaced by a newer one.
 */
@ApplicationScoped
public class Webhooks {

    private static final Logger LOG = Logger.getLogger(Webhooks.class);

    public static final Set<String> EVENTS = Set.of("started", "progress", "completed");
    static final long PROGRESS_EVERY_MILLIS = 1000;

    /** A checked webhook: its URL and the events it wants. */
    public record Hook(URI url, Set<String> events) {
    }

    @Inject
    ServiceConfig config;

    @Inject
    JobService jobs;

    @Inject
    JobViews views;

    @Inject
    ObjectMapper json;

    @Inject
    MeterRegistry registry;

    private HttpClient http;
    private byte[] key;
    private ThreadPoolExecutor sender;
    private final ScheduledExecutorService timer = Executors.newScheduledThreadPool(1, r -> {
        Thread t = new Thread(r, "sd-webhook-timer");
        t.setDaemon(true);
        return t;
    });
    private static final AtomicInteger SENDERS = new AtomicInteger();

    @PostConstruct
    void init() {
        ServiceConfig.Webhooks w = config.webhooks();
        http = HttpClient.newBuilder().connectTimeout(w.timeout()).followRedirects(HttpClient.Redirect.NEVER).build();
        key = w.secret().filter(s -> !s.isBlank()).map(Webhooks::keyBytes).orElse(null);
        sender = new ThreadPoolExecutor(2, 2, 30, TimeUnit.SECONDS, new ArrayBlockingQueue<>(w.queueCapacity()), r -> {
            Thread t = new Thread(r, "sd-webhook-sender-" + SENDERS.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        sender.allowCoreThreadTimeOut(true);
    }

    @PreDestroy
    void stop() {
        timer.shutdownNow();
        sender.shutdownNow();
    }

    /** The Standard Webhooks key: "whsec_" + base64, or (not base64) the secret's UTF-8 bytes. */
    static byte[] keyBytes(String secret) {
        String s = secret.startsWith("whsec_") ? secret.substring("whsec_".length()) : secret;
        try {
            return Base64.getDecoder().decode(s);
        } catch (IllegalArgumentException e) {
            return s.getBytes(StandardCharsets.UTF_8);
        }
    }

    /** "v1," + base64(HMAC-SHA256(key, id.timestamp.body)). */
    static String sign(byte[] key, String id, long timestamp, String body) {
        try {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(key, "HmacSHA256"));
            byte[] sig = mac.doFinal((id + "." + timestamp + "." + body).getBytes(StandardCharsets.UTF_8));
            return "v1," + Base64.getEncoder().encodeToString(sig);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---------------------------------------------------------------- submission

    /**
     * The request's webhook, checked: an unknown event name is 400; a URL that is not absolute http(s), too long,
     * unresolvable or (unless allowed) pointing at a loopback, link-local or private address is 422.
     */
    public Optional<Hook> check(String webhook, List<String> events) {
        if (webhook == null) {
            if (events != null) {
                throw ProblemException.invalid("webhook_events", "only with webhook");
            }
            return Optional.empty();
        }
        Set<String> wanted = new LinkedHashSet<>();
        if (events == null) {
            wanted.add("completed");
        } else {
            List<FieldError> errors = new ArrayList<>();
            if (events.isEmpty()) {
                errors.add(new FieldError("webhook_events", "must name at least one of " + sorted(EVENTS)));
            }
            for (int i = 0; i < events.size(); i++) {
                String e = events.get(i);
                if (e == null || !EVENTS.contains(e)) {
                    errors.add(new FieldError("webhook_events[" + i + "]", "must be one of " + sorted(EVENTS)));
                } else {
                    wanted.add(e);
                }
            }
            if (!errors.isEmpty()) {
                throw ProblemException.invalid(errors);
            }
        }
        int max = config.webhooks().maxUrlLength();
        if (webhook.length() > max) {
            throw ProblemException.unprocessable("webhook", "at most " + max + " characters, got " + webhook.length());
        }
        URI uri;
        try {
            uri = new URI(webhook);
        } catch (URISyntaxException e) {
            throw ProblemException.unprocessable("webhook", "not a URL: " + e.getReason());
        }
        String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
        if (!scheme.equals("http") && !scheme.equals("https")) {
            throw ProblemException.unprocessable("webhook", "must be an http or https URL");
        }
        if (uri.getHost() == null || uri.getUserInfo() != null || uri.getFragment() != null) {
            throw ProblemException.unprocessable("webhook", "must be an absolute http(s) URL with a host, "
                    + "without user info or fragment");
        }
        Optional<String> refused = refusedAddress(uri.getHost());
        if (refused.isPresent()) {
            throw ProblemException.unprocessable("webhook", refused.get());
        }
        return Optional.of(new Hook(uri, Set.copyOf(wanted)));
    }

    private static String sorted(Set<String> s) {
        return s.stream().sorted().toList().toString();
    }

    /** Why a host may not receive webhooks (SSRF guard), checked at submission and before each try. */
    Optional<String> refusedAddress(String host) {
        InetAddress[] addresses;
        try {
            addresses = InetAddress.getAllByName(host);
        } catch (UnknownHostException e) {
            return Optional.of("the host " + host + " does not resolve");
        }
        if (config.webhooks().allowPrivate()) {
            return Optional.empty();
        }
        for (InetAddress a : addresses) {
            if (isPrivate(a)) {
                return Optional.of("the host " + host + " resolves to a loopback, link-local or private address ("
                        + a.getHostAddress() + "); set sd.webhooks.allow-private=true to allow it");
            }
        }
        return Optional.empty();
    }

    static boolean isPrivate(InetAddress a) {
        if (a.isLoopbackAddress() || a.isLinkLocalAddress() || a.isSiteLocalAddress() || a.isAnyLocalAddress()
                || a.isMulticastAddress()) {
            return true;
        }
        byte[] b = a.getAddress();
        if (a instanceof Inet4Address) {
            int first = b[0] & 0xff;
            int second = b[1] & 0xff;
            return first == 0 || (first == 100 && second >= 64 && second < 128) // CGNAT 100.64/10
                    || (first == 192 && second == 0 && (b[2] & 0xff) == 0) // 192.0.0/24
                    || (first == 198 && (second == 18 || second == 19)) // benchmarking 198.18/15
                    || first >= 240;
        }
        if (a instanceof Inet6Address) {
            if ((b[0] & 0xfe) == 0xfc) { // unique local fc00::/7
                return true;
            }
            boolean mapped = true; // ::ffff:a.b.c.d
            for (int i = 0; i < 10; i++) {
                mapped &= b[i] == 0;
            }
            if (mapped && (b[10] & 0xff) == 0xff && (b[11] & 0xff) == 0xff) {
                try {
                    return isPrivate(InetAddress.getByAddress(new byte[] {b[12], b[13], b[14], b[15]}));
                } catch (UnknownHostException e) {
                    return true;
                }
            }
        }
        return false;
    }

    // ---------------------------------------------------------------- watching a job

    /** Jobs followed now (a repeated Idempotency-Key returns the same job: it is watched once). */
    private final Set<String> watched = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /** Follows the job from this replica and sends its hook's events. */
    public void watch(Job job, Hook hook) {
        if (!watched.add(job.id())) {
            return;
        }
        Watcher w = new Watcher(job.id(), hook);
        long every = Math.max(10, config.events().pollInterval().toMillis());
        synchronized (w) {
            w.task = timer.scheduleWithFixedDelay(w::poll, 0, every, TimeUnit.MILLISECONDS);
        }
    }

    /** One job's deliveries, one in flight at a time, in order (see the class comment). */
    private final class Lane {
        private final java.util.ArrayDeque<Delivery> waiting = new java.util.ArrayDeque<>();
        private boolean busy;

        synchronized void offer(Delivery d) {
            if (!busy) {
                busy = true;
                submit(d, 1);
                return;
            }
            if (d.event().equals("progress")) {
                waiting.removeIf(w -> w.event().equals("progress"));
            }
            waiting.add(d);
        }

        /** The delivery in flight ended (delivered, failed or dropped): the next one may go. */
        synchronized void done() {
            Delivery next = waiting.poll();
            if (next == null) {
                busy = false;
            } else {
                submit(next, 1);
            }
        }
    }

    private final class Watcher {
        final String id;
        final Hook hook;
        final Lane lane = new Lane();
        ScheduledFuture<?> task;
        boolean startedSent;
        int lastStep;
        long lastProgressAt;

        Watcher(String id, Hook hook) {
            this.id = id;
            this.hook = hook;
        }

        synchronized void poll() {
            Optional<Job> found;
            try {
                found = jobs.find(id);
            } catch (RuntimeException e) {
                return; // the store is unreachable: next tick
            }
            if (found.isEmpty()) {
                task.cancel(false);
                watched.remove(id);
                return;
            }
            Job job = found.get();
            Job.Snapshot s = job.snapshot();
            if (s.status() == JobStatus.QUEUED) {
                return;
            }
            if (!startedSent && s.startedAtMillis() != null) {
                startedSent = true;
                if (hook.events().contains("started")) {
                    enqueue("started", job);
                }
            }
            long now = System.currentTimeMillis();
            if (!s.status().isFinal() && hook.events().contains("progress") && s.stepsDone() > lastStep
                    && now - lastProgressAt >= PROGRESS_EVERY_MILLIS) {
                lastStep = s.stepsDone();
                lastProgressAt = now;
                enqueue("progress", job);
            }
            if (s.status().isFinal()) {
                task.cancel(false);
                if (hook.events().contains("completed")) {
                    enqueue("completed", job);
                }
                watched.remove(id);
            }
        }

        private void enqueue(String event, Job job) {
            String body;
            try {
                body = json.writeValueAsString(views.view(job));
            } catch (Exception e) {
                LOG.warnf(e, "webhook of job %s: cannot write the job view", id);
                return;
            }
            lane.offer(new Delivery("msg_" + UUID.randomUUID().toString().replace("-", ""), hook.url(), event,
                    body, id, lane));
        }
    }

    private record Delivery(String id, URI url, String event, String body, String jobId, Lane lane) {
    }

    private void submit(Delivery d, int attempt) {
        try {
            sender.execute(() -> attempt(d, attempt));
        } catch (RejectedExecutionException e) {
            count("dropped");
            LOG.warnf("webhook %s of job %s dropped: the sender's queue is full", d.event(), d.jobId());
            d.lane().done();
        }
    }

    private void attempt(Delivery d, int attempt) {
        ServiceConfig.Webhooks w = config.webhooks();
        String why;
        Optional<String> refused = refusedAddress(d.url().getHost()); // the name may resolve elsewhere now
        if (refused.isPresent()) {
            count("failed");
            LOG.warnf("webhook %s of job %s not sent: %s", d.event(), d.jobId(), refused.get());
            d.lane().done();
            return;
        }
        try {
            long ts = System.currentTimeMillis() / 1000;
            HttpRequest.Builder req = HttpRequest.newBuilder(d.url()).timeout(w.timeout())
                    .header("Content-Type", "application/json")
                    .header("User-Agent", "sd-guidance-service-webhooks")
                    .header("Webhook-Id", d.id())
                    .header("Webhook-Timestamp", Long.toString(ts))
                    .header("Webhook-Event", d.event())
                    .POST(HttpRequest.BodyPublishers.ofString(d.body(), StandardCharsets.UTF_8));
            if (key != null) {
                req.header("Webhook-Signature", sign(key, d.id(), ts, d.body()));
            }
            HttpResponse<Void> r = http.send(req.build(), HttpResponse.BodyHandlers.discarding());
            if (r.statusCode() >= 200 && r.statusCode() < 300) {
                count("delivered");
                d.lane().done();
                return;
            }
            why = "HTTP " + r.statusCode();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        } catch (Exception e) {
            why = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
        }
        if (attempt >= w.tries()) {
            count("failed");
            LOG.warnf("webhook %s of job %s to %s failed after %d tries: %s", d.event(), d.jobId(), d.url(), attempt,
                    why);
            d.lane().done();
            return;
        }
        count("retried");
        long delay = w.backoff().toMillis() << Math.min(20, attempt - 1);
        LOG.debugf("webhook %s of job %s: try %d failed (%s); again in %d ms", d.event(), d.jobId(), attempt, why,
                delay);
        try {
            timer.schedule(() -> submit(d, attempt + 1), delay, TimeUnit.MILLISECONDS);
        } catch (RejectedExecutionException e) {
            count("dropped"); // shutting down
            d.lane().done();
        }
    }

    private void count(String outcome) {
        registry.counter("sd.webhook.deliveries", "outcome", outcome).increment();
    }

    /** For tests: no job watched and nothing being sent. */
    boolean idle() {
        return watched.isEmpty() && sender.getActiveCount() == 0 && sender.getQueue().isEmpty();
    }

}
