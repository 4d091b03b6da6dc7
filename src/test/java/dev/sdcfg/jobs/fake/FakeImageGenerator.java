package dev.sdcfg.jobs.fake;

import ai.djl.engine.EngineException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sdcfg.pipeline.GeneratedImage;
import dev.sdcfg.pipeline.GenerationCanceledException;
import dev.sdcfg.pipeline.GenerationListener;
import dev.sdcfg.pipeline.GenerationRequest;
import dev.sdcfg.pipeline.GenerationResult;
import dev.sdcfg.pipeline.ImageGenerator;
import dev.sdcfg.pipeline.InvalidRequestException;
import dev.sdcfg.pipeline.LatentPreview;
import dev.sdcfg.pipeline.ModelInfo;
import dev.sdcfg.pipeline.image.PngEncoder;
import dev.sdcfg.sampler.SamplerInfo;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArraySet;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A stand-in for the Stable Diffusion pipeline in service tests: same contract (validation of the sampler and of
 * the guidance spec against the step count, per-step callbacks, cancellation between steps, PNGs with a parameters text chunk), no NDArrays.
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
    public ModelInfo modelInfo() {
        return new ModelInfo("fake-tiny-sd", null, "cpu", "float32", 64, 8, 4, 32, 77, "PNDMScheduler", "epsilon", 0,
                0);
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
    public List<SamplerInfo> samplers() {
        List<SamplerInfo.Option> options = SAMPLER_OPTIONS.stream()
                .map(k -> new SamplerInfo.Option(k, "string", null, List.of(), "fake option")).toList();
        List<SamplerInfo> out = new ArrayList<>();
        for (String s : List.of("pndm", "euler", "euler_a", "ddim", "lms", "dpmpp_2m")) {
            out.add(new SamplerInfo(s, "FakeScheduler", "test double", Map.of(), false, options));
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
        for (String k : r.samplerOptions().keys()) {
            if (!SAMPLER_OPTIONS.contains(k)) {
                throw new InvalidRequestException("sampler_options." + k, "unknown sampler option");
            }
        }
        // the spec was parsed where the request came in; what depends on the step count is the engine's check
        r.guidance().validateFor(r.steps());
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
                int every = listener.previewEvery();
                if (every > 0 && (step + 1) % every == 0 && step + 1 < r.steps()) {
                    listener.onPreview(i, step, r.steps(), preview(r.seed() + i, step, r.width() / 8, r.height() / 8));
                }
            }
            long seed = r.seed() + i;
            Map<String, String> text = new LinkedHashMap<>();
            text.put("parameters", "{\"prompt\":" + JSON.valueToTree(r.prompt()) + ",\"seed\":" + seed
                    + ",\"guidance\":" + r.guidance().canonicalJson() + "}");
            images.add(new GeneratedImage(PngEncoder.encode(pattern(seed, r.width(), r.height()), r.width(),
                    r.height(), text), seed, r.width(), r.height()));
            listener.onVaeDecoded(3_000_000);
        }
        List<String> warnings = r.prompt().length() > 300 ? List.of("prompt cut at 77 tokens") : List.of();
        Map<String, Double> timings = new LinkedHashMap<>();
        timings.put("total", (System.nanoTime() - t0) / 1e6);
        return new GenerationResult(images, warnings, timings);
    }

    /** A preview as the pipeline makes one, from a deterministic stand-in latent of the seed and step. */
    public static LatentPreview.Image preview(long seed, int step, int w, int h) {
        float[] latent = new float[4 * w * h];
        for (int k = 0; k < latent.length; k++) {
            latent[k] = (float) Math.sin(seed + 31L * step + k);
        }
        return new LatentPreview.Image(w, h, PngEncoder.encodeRgb(LatentPreview.toRgb(latent, h, w), w, h, Map.of()));
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
