package dev.sdcfg.jobs.fake;

import ai.djl.engine.EngineException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sdcfg.pipeline.GeneratedImage;
import dev.sdcfg.pipeline.GenerationCanceledException;
import dev.sdcfg.pipeline.GenerationListener;
import dev.sdcfg.pipeline.GenerationRequest;
import dev.sdcfg.pipeline.GenerationResult;
import dev.sdcfg.pipeline.ImageGenerator;
import dev.sdcfg.pipeline.InvalidRequestException;
import dev.sdcfg.pipeline.image.PngEncoder;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A stand-in for the Stable Diffusion pipeline in service tests: same contract (validation of the guidance spec
 * and sampler, per-step callbacks, cancellation between steps, PNGs with a parameters text chunk), no NDArrays.
 * Images are a deterministic function of the seed. Prompts starting with {@code fail:oom} or {@code fail:boom}
 * make the job fail inside the generator.
 */
public final class FakeImageGenerator implements ImageGenerator {

    public static final Set<String> NORMALIZERS = Set.of("none", "basenorm", "tnorm", "fullnorm", "rescale", "apg",
            "cfg-zero-star");
    public static final Set<String> SCHEDULES = Set.of("constant", "cosine", "linear", "power", "step", "array");
    public static final Set<String> PRESETS = Set.of("BaseCFG", "FullNormGuidance_Sched_TCos", "TNormGuidance");
    public static final Set<String> SAMPLERS = Set.of("pndm", "euler", "euler_a", "ddim", "lms", "dpmpp_2m");
    private static final Set<String> SAMPLER_OPTIONS = Set.of("use_karras_sigmas", "timestep_spacing", "eta");
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Gate gate;
    private final long stepDelayMillis;
    private final Thread owner = Thread.currentThread();
    /** Threads that called generate or warmUp (the test asserts it is exactly the creating worker thread). */
    public final Set<Thread> modelThreads = new CopyOnWriteArraySet<>();
    public final AtomicInteger warmUps = new AtomicInteger();
    public final AtomicInteger generations = new AtomicInteger();
    public volatile boolean closed;
    public volatile Thread closedOn;

    public FakeImageGenerator(Gate gate, long stepDelayMillis) {
        this.gate = gate == null ? new Gate() : gate;
        this.stepDelayMillis = stepDelayMillis;
    }

    public Thread owner() {
        return owner;
    }

    @Override
    public Map<String, Object> modelInfo() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", "fake-tiny-sd");
        m.put("description", "test double: deterministic patterns, no model");
        m.put("device", "cpu");
        m.put("dtype", "float32");
        m.put("native_size", 64);
        return m;
    }

    @Override
    public Map<String, Object> guidanceCatalog() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("normalizers", List.copyOf(NORMALIZERS));
        m.put("schedules", List.copyOf(SCHEDULES));
        m.put("parameters", Map.of("g", Map.of("min", 0, "max", 30, "default", 7.5)));
        m.put("presets", List.copyOf(PRESETS));
        return m;
    }

    @Override
    public List<Map<String, Object>> samplers() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (String s : List.of("pndm", "euler", "euler_a", "ddim", "lms", "dpmpp_2m")) {
            out.add(Map.of("name", s, "options", List.copyOf(SAMPLER_OPTIONS)));
        }
        return out;
    }

    @Override
    public void validate(GenerationRequest r) {
        if (r.prompt() == null) {
            throw new InvalidRequestException("prompt", "required");
        }
        if (r.width() % 8 != 0 || r.height() % 8 != 0) {
            throw new InvalidRequestException("width", "multiple of 8");
        }
        if (r.steps() < 1 || r.n() < 1) {
            throw new InvalidRequestException("steps", "must be positive");
        }
        if (r.sampler() != null && !SAMPLERS.contains(r.sampler())) {
            throw new InvalidRequestException("sampler", "unknown sampler '" + r.sampler() + "'; known: " + SAMPLERS);
        }
        if (r.samplerOptions() != null) {
            JsonNode o = parse(r.samplerOptions(), "sampler_options");
            for (Iterator<String> it = o.fieldNames(); it.hasNext(); ) {
                String k = it.next();
                if (!SAMPLER_OPTIONS.contains(k)) {
                    throw new InvalidRequestException("sampler_options." + k, "unknown sampler option");
                }
            }
        }
        if (r.guidanceJson() != null) {
            validateGuidance(parse(r.guidanceJson(), "guidance"), r.steps());
        }
    }

    private static JsonNode parse(String json, String field) {
        try {
            return JSON.readTree(json);
        } catch (IOException e) {
            throw new InvalidRequestException(field, "not JSON");
        }
    }

    private static void validateGuidance(JsonNode g, int steps) {
        if (g.isNumber()) {
            checkScale(g.asDouble(), "guidance");
            return;
        }
        if (!g.isObject()) {
            throw new InvalidRequestException("guidance", "must be a number, an object or {\"preset\": name}");
        }
        for (Iterator<Map.Entry<String, JsonNode>> it = g.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String k = e.getKey();
            JsonNode v = e.getValue();
            switch (k) {
                case "preset":
                    if (!v.isTextual() || !PRESETS.contains(v.asText())) {
                        throw new InvalidRequestException("guidance.preset", "unknown preset " + v + "; known: " + PRESETS);
                    }
                    break;
                case "normalizer":
                    if (!v.isTextual() || !NORMALIZERS.contains(v.asText())) {
                        throw new InvalidRequestException("guidance.normalizer", "unknown normalizer " + v);
                    }
                    break;
                case "g":
                    validateSchedule(v, "guidance.g", steps);
                    break;
                case "interval":
                    if (!v.isArray() || v.size() != 2 || !v.get(0).isNumber() || !v.get(1).isNumber()
                            || v.get(0).asDouble() < 0 || v.get(1).asDouble() > 1
                            || v.get(0).asDouble() >= v.get(1).asDouble()) {
                        throw new InvalidRequestException("guidance.interval", "must be [start, end) with 0 <= start < end <= 1");
                    }
                    break;
                default:
                    throw new InvalidRequestException("guidance." + k, "unknown guidance parameter");
            }
        }
    }

    private static void validateSchedule(JsonNode v, String field, int steps) {
        if (v.isNumber()) {
            checkScale(v.asDouble(), field);
            return;
        }
        if (v.isArray()) {
            if (v.size() != steps) {
                throw new InvalidRequestException(field, "an explicit schedule needs one value per step (" + steps + ")");
            }
            for (int i = 0; i < v.size(); i++) {
                if (!v.get(i).isNumber()) {
                    throw new InvalidRequestException(field + "[" + i + "]", "must be a number");
                }
                checkScale(v.get(i).asDouble(), field + "[" + i + "]");
            }
            return;
        }
        if (!v.isObject() || !v.path("schedule").isTextual() || !SCHEDULES.contains(v.path("schedule").asText())) {
            throw new InvalidRequestException(field + ".schedule", "unknown schedule; known: " + SCHEDULES);
        }
        for (String p : List.of("max", "min", "value", "from", "to")) {
            if (v.has(p)) {
                if (!v.get(p).isNumber()) {
                    throw new InvalidRequestException(field + "." + p, "must be a number");
                }
                checkScale(v.get(p).asDouble(), field + "." + p);
            }
        }
    }

    private static void checkScale(double g, String field) {
        if (!Double.isFinite(g) || g < 0 || g > 30) {
            throw new InvalidRequestException(field, "guidance scale must be within 0..30");
        }
    }

    @Override
    public GenerationResult generate(GenerationRequest r, GenerationListener listener) {
        modelThreads.add(Thread.currentThread());
        generations.incrementAndGet();
        long t0 = System.nanoTime();
        listener.onTextEncoded(1_000_000);
        if (r.prompt().startsWith("fail:oom")) {
            throw new EngineException("CUDA out of memory. Tried to allocate 20.00 GiB");
        }
        if (r.prompt().startsWith("fail:boom")) {
            throw new IllegalStateException("boom inside the generator");
        }
        List<GeneratedImage> images = new ArrayList<>();
        for (int i = 0; i < r.n(); i++) {
            for (int step = 0; step < r.steps(); step++) {
                if (listener.isCanceled()) {
                    throw new GenerationCanceledException("canceled at step " + step + " of " + r.steps());
                }
                gate.pass(listener);
                if (stepDelayMillis > 0) {
                    try {
                        Thread.sleep(stepDelayMillis);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                listener.onUnetForward(2_000_000);
                listener.onStep(i, step, r.steps(), 5_000_000);
            }
            long seed = r.seed() + i;
            Map<String, String> text = new LinkedHashMap<>();
            text.put("parameters", "{\"prompt\":" + JSON.valueToTree(r.prompt()) + ",\"seed\":" + seed
                    + ",\"guidance\":" + r.guidanceJson() + "}");
            images.add(new GeneratedImage(PngEncoder.encode(pattern(seed, r.width(), r.height()), r.width(),
                    r.height(), text), seed, r.width(), r.height()));
            listener.onVaeDecoded(3_000_000);
        }
        List<String> warnings = r.prompt().length() > 300 ? List.of("prompt cut at 77 tokens") : List.of();
        Map<String, Double> timings = new LinkedHashMap<>();
        timings.put("total", (System.nanoTime() - t0) / 1e6);
        return new GenerationResult(images, warnings, timings);
    }

    /** The fake's image for a seed: a deterministic pattern. */
    public static int[] pattern(long seed, int w, int h) {
        int[] px = new int[w * h];
        long s = seed * 0x9E3779B97F4A7C15L + 1;
        for (int i = 0; i < px.length; i++) {
            s ^= s << 13;
            s ^= s >>> 7;
            s ^= s << 17;
            px[i] = (int) (s & 0xFFFFFF);
        }
        return px;
    }

    @Override
    public void warmUp() {
        modelThreads.add(Thread.currentThread());
        warmUps.incrementAndGet();
    }

    @Override
    public void close() {
        closed = true;
        closedOn = Thread.currentThread();
    }
}
