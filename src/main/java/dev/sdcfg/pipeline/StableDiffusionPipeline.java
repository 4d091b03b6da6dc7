package dev.sdcfg.pipeline;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.sdcfg.guidance.GuidanceCatalog;
import dev.sdcfg.guidance.GuidancePlan;
import dev.sdcfg.model.ModelFolder;
import dev.sdcfg.model.clip.ClipTextModel;
import dev.sdcfg.model.clip.ClipTokenizer;
import dev.sdcfg.model.config.JsonConfig;
import dev.sdcfg.model.unet.UNet2DConditionModel;
import dev.sdcfg.model.vae.AutoencoderKL;
import dev.sdcfg.pipeline.image.PngEncoder;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.sampler.PrefetchedNoise;
import dev.sdcfg.sampler.Sampler;
import dev.sdcfg.sampler.SamplerFactory;
import dev.sdcfg.sampler.SamplerInfo;
import dev.sdcfg.runtime.HostScalars;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Stable Diffusion text-to-image: prompt → CLIP embeddings → denoising loop (UNet on the CFG pair, guidance
 * transform, sampler step) → VAE decode → PNG.
 *
 * <p>Threading: one worker thread calls {@link #generate} and {@link #warmUp}; the engine's random generator is
 * global, so only that thread may draw noise. {@link #validate} and the description methods touch no NDArray.
 */
public final class StableDiffusionPipeline implements ImageGenerator {

    private final String modelId;
    private final Path root;
    private final ComputeContext ctx;
    private final PipelineOptions options;
    private final ClipTokenizer tokenizer;
    private final ClipTextModel textEncoder;
    private final UNet2DConditionModel unet;
    private final AutoencoderKL vae;
    private final JsonConfig schedulerConfig;
    private final NDManager manager;
    private final int vaeScaleFactor;
    private final RequestChecks checks;
    /** Embedding of the empty prompt (the default negative prompt), computed once. */
    private NDArray emptyPromptEmbedding;
    /** Measured once on the worker thread ({@link #calibrateMemory}); read by {@link #validate} on any thread. */
    private volatile MemoryPlanner memoryPlanner;
    private volatile long memoryBudget;
    /** Set per job by {@link #generate} from its plan (worker thread only). */
    private boolean splitGuidancePair;
    private int vaeTile;

    private StableDiffusionPipeline(String modelId, Path root, ClipTokenizer tokenizer, JsonConfig schedulerConfig,
                                    ClipTextModel textEncoder, UNet2DConditionModel unet, AutoencoderKL vae,
                                    ComputeContext ctx, PipelineOptions options) {
        checkComponentsFit(tokenizer, textEncoder, unet, vae);
        if (vae.shiftFactor() != 0.0) {
            System.getLogger(StableDiffusionPipeline.class.getName()).log(System.Logger.Level.WARNING,
                    vae.config().source() + ": 'shift_factor' " + vae.shiftFactor() + " is ignored, as diffusers'"
                            + " StableDiffusionPipeline ignores it (latents are decoded as latents / scaling_factor)");
        }
        schedulerConfig = asStableDiffusionPipelineSees(schedulerConfig);
        try {
            SamplerFactory.create(null, schedulerConfig, new JsonObject()).close(); // the model's own sampler must be usable
        } catch (IllegalArgumentException e) {
            throw new dev.sdcfg.model.ModelLoadException(schedulerConfig.source() + ": " + e.getMessage(), e);
        }
        this.modelId = modelId;
        this.root = root;
        this.ctx = ctx;
        this.options = options;
        this.schedulerConfig = schedulerConfig;
        this.tokenizer = tokenizer;
        this.textEncoder = textEncoder;
        this.unet = unet;
        this.vae = vae;
        this.manager = NDManager.newBaseManager(ctx.device());
        this.vaeScaleFactor = vae.downscaleFactor();
        this.checks = new RequestChecks(schedulerConfig, vaeScaleFactor, options.maxPixels());
    }

    /**
     * The model's scheduler config as diffusers' {@code StableDiffusionPipeline.__init__} leaves it: a
     * {@code steps_offset} other than 1 becomes 1 and a true {@code clip_sample} becomes false (both with a
     * deprecation warning there). The values are those of {@code scheduler.config}, i.e. the class defaults where
     * the file is silent: {@code steps_offset} 0 for every scheduler class, {@code clip_sample} true for DDIM and
     * DDPM and absent for the others. Samplers a request names are built from this adjusted config, as
     * {@code XScheduler.from_config(pipe.scheduler.config)} would be.
     */
    static JsonConfig asStableDiffusionPipelineSees(JsonConfig config) {
        JsonObject json = config.json().deepCopy();
        List<String> changed = new ArrayList<>();
        JsonElement offset = json.get("steps_offset");
        boolean offsetIsOne = offset != null && offset.isJsonPrimitive() && offset.getAsJsonPrimitive().isNumber()
                && offset.getAsDouble() == 1.0;
        if (!offsetIsOne) {
            json.addProperty("steps_offset", 1);
            changed.add("steps_offset " + (offset == null ? "0 (default)" : offset) + " -> 1");
        }
        String cls = config.getString("_class_name", "");
        JsonElement clip = json.get("clip_sample");
        boolean clipDefault = cls.equals("DDIMScheduler") || cls.equals("DDPMScheduler");
        boolean clipOn = clip == null ? clipDefault
                : clip.isJsonPrimitive() && clip.getAsJsonPrimitive().isBoolean() && clip.getAsBoolean();
        if (clipOn) {
            json.addProperty("clip_sample", false);
            changed.add("clip_sample " + (clip == null ? "true (default)" : clip) + " -> false");
        }
        if (changed.isEmpty()) {
            return config;
        }
        System.getLogger(StableDiffusionPipeline.class.getName()).log(System.Logger.Level.WARNING,
                config.source() + ": " + String.join(", ", changed) + ", as diffusers' StableDiffusionPipeline does");
        return new JsonConfig(config.source(), json);
    }

    /**
     * The components must fit together the way StableDiffusionPipeline uses them (diffusers only finds out with a
     * shape error mid-generation): latents of unet in_channels are decoded by the VAE and updated with the UNet's
     * output; the UNet attends to text embeddings of the text encoder's width; the tokenizer's ids fit the position
     * table. Fails naming the config file and key.
     */
    static void checkComponentsFit(ClipTokenizer tokenizer, ClipTextModel textEncoder, UNet2DConditionModel unet,
                                   AutoencoderKL vae) {
        dev.sdcfg.model.unet.UNetConfig u = unet.config();
        if (u.inChannels() != vae.latentChannels()) {
            throw new dev.sdcfg.model.ModelLoadException(u.source() + ": 'in_channels' " + u.inChannels()
                    + " does not match the VAE's 'latent_channels' " + vae.latentChannels() + " ("
                    + vae.config().source() + "; inpainting/depth UNets need other pipelines)");
        }
        if (u.outChannels() != u.inChannels()) {
            throw new dev.sdcfg.model.ModelLoadException(u.source() + ": 'out_channels' " + u.outChannels()
                    + " differs from 'in_channels' " + u.inChannels() + " (learned-variance UNets are not supported)");
        }
        if (u.contextDim() != textEncoder.hiddenSize()) {
            throw new dev.sdcfg.model.ModelLoadException(u.source() + ": '"
                    + (u.encoderHidDim() > 0 ? "encoder_hid_dim" : "cross_attention_dim") + "' " + u.contextDim()
                    + " does not match the text encoder's 'hidden_size' " + textEncoder.hiddenSize());
        }
        if (tokenizer.maxLength() > textEncoder.maxPositionEmbeddings()) {
            throw new dev.sdcfg.model.ModelLoadException(tokenizer.source() + ": the tokenizer's length "
                    + tokenizer.maxLength() + " exceeds the text encoder's 'max_position_embeddings' "
                    + textEncoder.maxPositionEmbeddings());
        }
    }

    /** Loads a diffusers folder onto {@code ctx}. */
    public static StableDiffusionPipeline load(Path modelFolder, ComputeContext ctx, PipelineOptions options) {
        DjlRuntime.engine();
        ModelFolder folder = ModelFolder.open(modelFolder);
        JsonConfig schedulerConfig = folder.config(ModelFolder.SCHEDULER);
        ClipTokenizer tok = null;
        ClipTextModel te = null;
        UNet2DConditionModel un = null;
        AutoencoderKL va = null;
        try {
            tok = ClipTokenizer.load(folder.component(ModelFolder.TOKENIZER), 0);
            te = ClipTextModel.load(folder.component(ModelFolder.TEXT_ENCODER), options.variant(), ctx);
            un = UNet2DConditionModel.load(folder.component(ModelFolder.UNET), ctx, options.variant(),
                    options.attentionSliceSize());
            Path vaeDir = folder.component(ModelFolder.VAE);
            va = AutoencoderKL.load(vaeDir, AutoencoderKL.contextFor(
                    dev.sdcfg.model.vae.VaeConfig.read(vaeDir.resolve("config.json")), ctx), options.variant());
            Path name = modelFolder.toAbsolutePath().normalize().getFileName();
            return new StableDiffusionPipeline(name == null ? modelFolder.toString() : name.toString(),
                    modelFolder, tok, schedulerConfig, te, un, va, ctx, options);
        } catch (RuntimeException e) {
            closeQuietly(tok, te, un, va);
            throw e;
        }
    }

    /** A pipeline from already-built components (benchmarks with random weights). Takes ownership of them. */
    public static StableDiffusionPipeline assemble(String modelId, Path tokenizerDir, JsonConfig schedulerConfig,
                                                   ClipTextModel text, UNet2DConditionModel unet,
                                                   AutoencoderKL vae, ComputeContext ctx, PipelineOptions options) {
        return new StableDiffusionPipeline(modelId, null, ClipTokenizer.load(tokenizerDir, 0), schedulerConfig,
                text, unet, vae, ctx, options);
    }

    /**
     * A pipeline from components loaded elsewhere (a single-file checkpoint, {@code CheckpointLoader}); takes
     * ownership of them. {@code root} is the file they came from.
     */
    public static StableDiffusionPipeline fromComponents(String modelId, Path root, ClipTokenizer tokenizer,
                                                         JsonConfig schedulerConfig, ClipTextModel text,
                                                         UNet2DConditionModel unet, AutoencoderKL vae,
                                                         ComputeContext ctx, PipelineOptions options) {
        return new StableDiffusionPipeline(modelId, root, tokenizer, schedulerConfig, text, unet, vae, ctx, options);
    }

    /** The image side the UNet was trained at (sample_size × VAE scale factor). */
    public int nativeSize() {
        return unet.config().sampleSize() * vaeScaleFactor;
    }

    public ClipTokenizer tokenizer() {
        return tokenizer;
    }

    public ClipTextModel textEncoder() {
        return textEncoder;
    }

    public UNet2DConditionModel unet() {
        return unet;
    }

    public AutoencoderKL vae() {
        return vae;
    }

    public ComputeContext context() {
        return ctx;
    }

    public int vaeScaleFactor() {
        return vaeScaleFactor;
    }

    // ---------------------------------------------------------------- description and checks

    @Override
    public ModelInfo modelInfo() {
        return new ModelInfo(modelId, root == null ? null : root.toString(), ctx.device().toString(),
                ctx.dtype().name().toLowerCase(java.util.Locale.ROOT), nativeSize(), vaeScaleFactor,
                unet.config().inChannels(), textEncoder.hiddenSize(), tokenizer.maxLength(),
                schedulerConfig.getString("_class_name", null), schedulerConfig.getString("prediction_type", "epsilon"),
                options.clipSkip(), options.attentionSliceSize());
    }

    @Override
    public Map<String, Object> guidanceCatalog() {
        return GuidanceCatalog.describe();
    }

    @Override
    public List<SamplerInfo> samplers() {
        return SamplerFactory.describe();
    }

    /** Everything that can be checked without running the model, with the offending field named. */
    @Override
    public void validate(GenerationRequest r) {
        checks.check(r);
        MemoryPlan plan = memoryPlan(r);
        if (plan != null && !plan.fits()) {
            throw tooLarge(plan);
        }
    }

    private static InvalidRequestException tooLarge(MemoryPlan plan) {
        return new InvalidRequestException("width", plan.needs() + "; use a smaller size (images are generated"
                + " one at a time, so n does not change the peak)");
    }

    /**
     * The memory plan for a request (images run one after another, each with its guidance pair), or null before
     * the model's memory was measured ({@link #calibrateMemory}, done by {@link #warmUp} and by the first job).
     */
    public MemoryPlan memoryPlan(GenerationRequest r) {
        MemoryPlanner planner = memoryPlanner;
        return planner == null ? null : planner.plan(r.width(), r.height(), true, memoryBudget);
    }

    /** The working-memory budget in bytes (0 before {@link #calibrateMemory}). */
    public long memoryBudget() {
        return memoryBudget;
    }

    public MemoryPlanner memoryPlanner() {
        return memoryPlanner;
    }

    /** Bytes of the arrays the pipeline holds outside a job (weights excluded): tests check a job leaves none. */
    long heldBytes() {
        return dev.sdcfg.runtime.MemoryBudget.bytesOf(manager);
    }

    /**
     * Measures the model's memory footprint (worker thread): one UNet forward (batch 1) and one VAE decode at two
     * small sizes, with {@link dev.sdcfg.runtime.MemoryProbe} summing what their scopes hold; then resolves the
     * budget ({@link PipelineOptions#memoryBudget}, "auto" per {@link dev.sdcfg.runtime.MemoryBudget}).
     */
    public synchronized void calibrateMemory() {
        if (memoryPlanner != null) {
            return;
        }
        dev.sdcfg.model.unet.UNetConfig u = unet.config();
        int k = Math.max(8, 1 << (u.numBlocks() - 1)); // divisible by every downsampling
        long[] unetBytes = new long[2];
        long[] vaeBytes = new long[2];
        try (NDManager m = manager.newSubManager()) {
            NDArray context = m.zeros(new Shape(1, tokenizer.maxLength(), textEncoder.hiddenSize()), ctx.dtype());
            NDArray t = m.zeros(new Shape(), DataType.FLOAT32); // timestep 0: made on the device, no upload
            for (int i = 0; i < 2; i++) {
                int side = k << i;
                NDArray sample = m.zeros(new Shape(1, u.inChannels(), side, side), ctx.dtype());
                dev.sdcfg.runtime.MemoryProbe.start();
                try {
                    unet.forward(sample, t, context).close();
                } finally {
                    unetBytes[i] = dev.sdcfg.runtime.MemoryProbe.stop();
                }
                dev.sdcfg.runtime.MemoryProbe.start();
                try {
                    vae.decode(sample).close();
                } finally {
                    vaeBytes[i] = dev.sdcfg.runtime.MemoryProbe.stop();
                }
            }
        }
        long cells1 = (long) k * k;
        long cells2 = 4L * cells1;
        double unetSlope = Math.max(0, (unetBytes[1] - unetBytes[0]) / (double) (cells2 - cells1));
        double vaeSlope = Math.max(0, (vaeBytes[1] - vaeBytes[0]) / (double) (cells2 - cells1));
        long unetFixed = Math.max(0, (long) (unetBytes[0] - unetSlope * cells1));
        long vaeFixed = Math.max(0, (long) (vaeBytes[0] - vaeSlope * cells1));
        List<MemoryPlanner.Site> sites = new ArrayList<>();
        int levels = u.numBlocks();
        int el = ctx.dtype().getNumOfBytes();
        for (int i = 0; i < levels; i++) {
            boolean attn = dev.sdcfg.model.unet.UNetConfig.CROSS_ATTN_DOWN.equals(u.downBlockTypes().get(i))
                    || dev.sdcfg.model.unet.UNetConfig.CROSS_ATTN_UP.equals(u.upBlockTypes().get(levels - 1 - i))
                    || (i == levels - 1 && dev.sdcfg.model.unet.UNetConfig.MID_CROSS_ATTN.equals(u.midBlockType()));
            if (attn) {
                boolean half = u.upcastAttention() && ctx.dtype() == DataType.FLOAT16;
                sites.add(new MemoryPlanner.Site(1 << i, u.numAttentionHeads().get(i), 0, el, half));
                sites.add(new MemoryPlanner.Site(1 << i, u.numAttentionHeads().get(i), tokenizer.maxLength(), el, half));
            }
        }
        MemoryPlanner.Site vaeSite = vae.config().midBlockAddAttention()
                ? new MemoryPlanner.Site(1, 1, 0, vae.dtype().getNumOfBytes(), vae.dtype() == DataType.FLOAT16)
                : null;
        long weights = dev.sdcfg.runtime.MemoryBudget.bytesOf(unet.manager()) + vae.weightBytes() + textEncoder.weightBytes();
        memoryBudget = dev.sdcfg.runtime.MemoryBudget.resolve(options.memoryBudget(), ctx.device(), weights);
        memoryPlanner = new MemoryPlanner(new MemoryPlanner.Footprint(weights, unetFixed, unetSlope, vaeFixed,
                vaeSlope, List.copyOf(sites), vaeSite, vaeScaleFactor, u.sampleSize()));
        System.getLogger(StableDiffusionPipeline.class.getName()).log(System.Logger.Level.INFO,
                "memory: weights " + dev.sdcfg.runtime.MemoryBudget.format(weights) + ", budget "
                        + dev.sdcfg.runtime.MemoryBudget.format(memoryBudget) + " (sd.memory.budget="
                        + options.memoryBudget() + "); UNet " + Math.round(unetSlope) + " B per latent cell, VAE "
                        + Math.round(vaeSlope) + " B per latent cell");
    }

    // ---------------------------------------------------------------- generation

    @Override
    public GenerationResult generate(GenerationRequest r, GenerationListener listener) {
        validate(r);
        calibrateMemory();
        MemoryPlan plan = memoryPlan(r);
        if (!plan.fits()) {
            throw tooLarge(plan);
        }
        long t0 = System.nanoTime();
        List<String> warnings = new ArrayList<>();
        List<GeneratedImage> images = new ArrayList<>();
        Map<String, Double> timings = new LinkedHashMap<>();
        if (plan.reduced()) {
            warnings.add(plan.describe());
        }
        listener.onMemoryPlan(plan);
        splitGuidancePair = plan.splitGuidance();
        vaeTile = plan.vaeTile();
        try (NDManager job = manager.newSubManager();
             dev.sdcfg.runtime.AttentionBudget.Restore limit =
                     dev.sdcfg.runtime.AttentionBudget.limit(plan.attentionBytes())) {
            long te0 = System.nanoTime();
            NDArray cond = encodePrompt(r.prompt(), "prompt", warnings, job);
            NDArray uncond = r.negativePrompt() == null || r.negativePrompt().isEmpty()
                    ? emptyPromptEmbedding() : encodePrompt(r.negativePrompt(), "negative_prompt", warnings, job);
            long te = System.nanoTime() - te0;
            listener.onTextEncoded(te);
            timings.put("text_encode", te / 1e6);
            double denoise = 0;
            double decode = 0;
            for (int i = 0; i < r.n(); i++) {
                long seed = r.seed() + i;
                long d0 = System.nanoTime();
                NDArray latents = denoise(r, seed, i, cond, uncond, listener, job, null);
                long d1 = System.nanoTime();
                NDArray image = decode(latents);
                byte[] rgb = toRgbBytes(image);
                long d2 = System.nanoTime();
                listener.onVaeDecoded(d2 - d1);
                denoise += (d1 - d0) / 1e6;
                decode += (d2 - d1) / 1e6;
                images.add(new GeneratedImage(PngEncoder.encodeRgb(rgb, r.width(), r.height(), pngText(r, seed)),
                        seed, r.width(), r.height()));
                latents.close();
                image.close();
            }
            timings.put("denoise", denoise);
            timings.put("vae_decode", decode);
        } finally {
            splitGuidancePair = false;
            vaeTile = 0;
        }
        timings.put("total", (System.nanoTime() - t0) / 1e6);
        return new GenerationResult(images, warnings, timings);
    }

    /** The prompt's text embedding [1, 77, D] (penultimate layer when clip_skip is 2). */
    public NDArray encodePrompt(String prompt, String field, List<String> warnings, NDManager into) {
        ClipTokenizer.Encoding enc = tokenizer.encode(prompt);
        if (enc.truncated() && warnings != null) {
            warnings.add(field + " was cut to " + tokenizer.maxLength() + " tokens (it has " + enc.untruncatedLength()
                    + "): the rest is ignored");
        }
        NDArray ids = into.create(enc.ids(), new Shape(1, enc.ids().length));
        NDArray emb = textEncoder.encode(ids, options.clipSkip());
        emb.attach(into);
        return emb;
    }

    private NDArray emptyPromptEmbedding() {
        if (emptyPromptEmbedding == null) {
            emptyPromptEmbedding = encodePrompt("", "negative_prompt", null, manager);
        }
        return emptyPromptEmbedding;
    }

    /**
     * Initial noise for a seed exactly as {@code torch.manual_seed(seed); torch.randn(shape)} on the CPU, in fp32,
     * then moved to the device and dtype, so a seed means the same image on any machine.
     */
    public NDArray initialNoise(long seed, int width, int height, NDManager into) {
        DjlRuntime.seed(seed);
        Shape shape = new Shape(1, unet.config().inChannels(), height / vaeScaleFactor, width / vaeScaleFactor);
        try (NDManager cpu = NDManager.newBaseManager(Device.cpu())) {
            NDArray noise = cpu.randomNormal(shape, DataType.FLOAT32);
            NDArray onDevice = noise.toDevice(ctx.device(), true).toType(ctx.dtype(), false);
            onDevice.attach(into);
            return onDevice;
        }
    }

    /** Observer of intermediate latents (tests). */
    public interface StepObserver {
        void afterStep(int step, NDArray latents);
    }

    /**
     * Runs the denoising loop of one image and returns its final latents (attached to {@code into}). {@code
     * observer} (may be null) sees the latents after each step; tests use it to compare trajectories.
     */
    NDArray denoise(GenerationRequest r, long seed, int imageIndex, NDArray cond, NDArray uncond,
                    GenerationListener listener, NDManager into, StepObserver observer) {
        NDManager work = into.newSubManager();
        try (GuidancePlan plan = r.guidance().plan(r.steps());
             Sampler sampler = newSampler(r);
             // noise for stochastic samplers, drawn ahead and moved once: at most one draw per model call
             PrefetchedNoise noise = new PrefetchedNoise(sampler.timesteps().length)) {
            double[] timesteps = sampler.timesteps();
            int calls = timesteps.length;
            NDArray latents = initialNoise(seed, r.width(), r.height(), work);
            latents = HostScalars.mul(latents, sampler.initNoiseSigma());
            // concat attaches to its first operand's manager, which is the pipeline's own for the cached empty
            // prompt: move the pair to this job's manager or every job would leak one array
            NDArray pair = NDArrays.concat(new NDList(uncond, cond), 0);
            pair.attach(work);
            NDArray ts = timestepTensor(timesteps, work);
            long s0 = System.nanoTime();
            for (int c = 0; c < calls; c++) {
                if (listener.isCanceled()) {
                    throw new GenerationCanceledException("canceled at model call " + (c + 1) + " of " + calls);
                }
                // schedules are defined over the requested steps; samplers with extra model calls (Heun, PNDM)
                // map each call to the step it belongs to
                int step = (int) ((long) c * r.steps() / calls);
                NDArray next;
                try (dev.sdcfg.runtime.ForwardScope scope = new dev.sdcfg.runtime.ForwardScope()) {
                    NDArray modelIn = sampler.scaleModelInput(latents, c);
                    NDArray t = ts.get(c);
                    NDArray guided;
                    if (plan.isZeroInit(step)) {
                        guided = modelIn.zerosLike();
                    } else if (plan.needsUnconditional(step) && splitGuidancePair) {
                        // the memory plan: the pair as two batch-1 calls (same numbers up to batch-size kernels)
                        long u0 = System.nanoTime();
                        NDArray outU = unet.forward(modelIn, t, uncond);
                        NDArray outC = unet.forward(modelIn, t, cond);
                        listener.onUnetForward(System.nanoTime() - u0);
                        guided = plan.guide(step, outU, outC);
                    } else if (plan.needsUnconditional(step)) {
                        long u0 = System.nanoTime();
                        NDArray out = unet.forward(NDArrays.concat(new NDList(modelIn, modelIn), 0), t, pair);
                        listener.onUnetForward(System.nanoTime() - u0);
                        NDList ut = out.split(2, 0);
                        guided = plan.guide(step, ut.get(0), ut.get(1));
                    } else {
                        long u0 = System.nanoTime();
                        NDArray tOnly = unet.forward(modelIn, t, cond);
                        listener.onUnetForward(System.nanoTime() - u0);
                        guided = plan.guide(step, null, tOnly);
                    }
                    next = sampler.step(guided, c, latents, noise);
                    next.attach(work);
                    ai.djl.ndarray.NDScope.unregister(next);
                }
                latents.close(); // samplers keep what they need from earlier steps themselves
                latents = next;
                if (observer != null) {
                    observer.afterStep(c, latents);
                }
                // progress counts the requested steps; a step may take several model calls (Heun, PNDM's first)
                boolean stepDone = c == calls - 1 || (int) ((long) (c + 1) * r.steps() / calls) != step;
                if (stepDone) {
                    long now = System.nanoTime();
                    listener.onStep(imageIndex, step, r.steps(), now - s0);
                    s0 = now;
                }
            }
            latents.attach(into);
            return latents;
        } finally {
            work.close();
        }
    }

    /** The job's timesteps as one float32 device tensor (one upload per image; each step takes a view). */
    private static NDArray timestepTensor(double[] timesteps, NDManager work) {
        return work.create(timesteps).toType(DataType.FLOAT32, false);
    }

    /** A sampler for the request with its timesteps set. */
    private Sampler newSampler(GenerationRequest r) {
        Sampler sampler = SamplerFactory.create(r.sampler(), schedulerConfig, r.samplerOptions().toJson());
        try {
            sampler.setTimesteps(r.steps());
            return sampler;
        } catch (RuntimeException e) {
            sampler.close();
            throw e;
        }
    }

    /** VAE decode of final latents → image in [−1, 1], [1, 3, H, W]. */
    public NDArray decode(NDArray latents) {
        // diffusers' StableDiffusionPipeline: vae.decode(latents / scaling_factor); it never applies shift_factor
        // (SD3/Flux pipelines do), so neither does this pipeline: the constructor warns when a VAE sets one
        NDArray scaled = HostScalars.div(latents, vae.scalingFactor());
        // the memory plan may decode in tiles (diffusers' enable_vae_tiling, tiles of the model's sample size)
        NDArray image = vaeTile > 0 ? vae.tiledDecode(scaled, vaeTile) : vae.decode(scaled);
        scaled.close();
        return image;
    }

    /** [1,3,H,W] in [−1,1] → HWC uint8 bytes, as diffusers: round(clamp(x/2+0.5, 0, 1)·255). */
    public static byte[] toRgbBytes(NDArray image) {
        try (ai.djl.ndarray.NDScope scope = new ai.djl.ndarray.NDScope()) {
            NDArray x = image.getDataType() == DataType.FLOAT32 ? image : image.toType(DataType.FLOAT32, false);
            NDArray u8 = HostScalars.mul(HostScalars.add(HostScalars.div(x, 2), 0.5).clip(0, 1), 255).round().toType(DataType.UINT8, false)
                    .squeeze(0).transpose(1, 2, 0);
            return u8.toByteArray();
        }
    }

    private Map<String, String> pngText(GenerationRequest r, long seed) {
        Map<String, String> t = new LinkedHashMap<>();
        t.put("prompt", r.prompt());
        if (r.negativePrompt() != null && !r.negativePrompt().isEmpty()) {
            t.put("negative_prompt", r.negativePrompt());
        }
        t.put("seed", Long.toString(seed));
        t.put("sampler", r.sampler() == null ? schedulerConfig.getString("_class_name", "default") : r.sampler());
        if (!r.samplerOptions().isEmpty()) {
            t.put("sampler_options", r.samplerOptions().canonicalJson());
        }
        t.put("steps", Integer.toString(r.steps()));
        t.put("guidance", r.guidance().canonicalJson());
        t.put("size", r.width() + "x" + r.height());
        t.put("model", modelId);
        t.put("software", "sd-guidance-service");
        return t;
    }

    @Override
    public void warmUp() {
        int side = vaeScaleFactor * 8;
        GenerationRequest r = new GenerationRequest("warm-up", "", side, side, 1, null, null, null, 0, 1);
        calibrateMemory();
        generate(r, GenerationListener.NONE);
    }

    @Override
    public void close() {
        closeQuietly(tokenizer, textEncoder, unet, vae);
        manager.close();
    }

    private static void closeQuietly(AutoCloseable... cs) {
        for (AutoCloseable c : cs) {
            if (c != null) {
                try {
                    c.close();
                } catch (Exception ignored) {
                    // closing after failure
                }
            }
        }
    }
}
