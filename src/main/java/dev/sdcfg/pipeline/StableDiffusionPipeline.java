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
    /** SDXL's second text encoder, pooled embeds and time ids (StableDiffusionXLPipeline); null for SD 1.x/2.x. */
    private final SdxlConditioning sdxl;
    /** A1111 prompt syntax: parse + 75-token chunks ({@code prompt_syntax} a1111). */
    private final dev.sdcfg.pipeline.prompt.PromptChunker chunker;
    /** Embedding of the empty prompt (the default negative prompt), computed once. */
    private NDArray emptyPromptEmbedding;
    /** Measured once on the worker thread ({@link #calibrateMemory}); read by {@link #validate} on any thread. */
    private volatile MemoryPlanner memoryPlanner;
    private volatile long memoryBudget;
    /** Set per job by {@link #generate} from its plan (worker thread only). */
    private boolean splitGuidancePair;
    private int vaeTile;
    /** {@link #modelHash()}'s cache ("" when there is none). */
    private String modelHash;

    private StableDiffusionPipeline(String modelId, Path root, ClipTokenizer tokenizer, JsonConfig schedulerConfig,
                                    ClipTextModel textEncoder, UNet2DConditionModel unet, AutoencoderKL vae,
                                    ComputeContext ctx, PipelineOptions options, SdxlConditioning sdxl) {
        if (sdxl == null) {
            checkComponentsFit(tokenizer, textEncoder, unet, vae);
        } else {
            checkLatentsFit(unet, vae);
            SdxlConditioning.checkComponentsFit(tokenizer, textEncoder, sdxl.tokenizer2(), sdxl.textEncoder2(),
                    unet.config());
        }
        this.sdxl = sdxl;
        if (vae.shiftFactor() != 0.0) {
            System.getLogger(StableDiffusionPipeline.class.getName()).log(System.Logger.Level.WARNING,
                    vae.config().source() + ": 'shift_factor' " + vae.shiftFactor() + " is ignored, as diffusers'"
                            + " StableDiffusionPipeline ignores it (latents are decoded as latents / scaling_factor)");
        }
        if (sdxl == null) { // StableDiffusionXLPipeline.__init__ leaves the scheduler config as it is
            schedulerConfig = asStableDiffusionPipelineSees(schedulerConfig);
        }
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
        this.chunker = new dev.sdcfg.pipeline.prompt.PromptChunker(tokenizer);
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
        checkLatentsFit(unet, vae);
        dev.sdcfg.model.unet.UNetConfig u = unet.config();
        if (u.addition() != null) {
            throw new dev.sdcfg.model.ModelLoadException(u.source() + ": 'addition_embed_type' text_time needs the"
                    + " StableDiffusionXLPipeline (model_index.json '_class_name') with text_encoder_2");
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

    /** Latents of unet in_channels are decoded by the VAE and updated with the UNet's output. */
    private static void checkLatentsFit(UNet2DConditionModel unet, AutoencoderKL vae) {
        dev.sdcfg.model.unet.UNetConfig u = unet.config();
        // inpainting UNets (StableDiffusionInpaintPipeline): latents + mask + masked-image latents in, latents out
        boolean inpainting = u.inChannels() == 2 * vae.latentChannels() + 1 && u.outChannels() == vae.latentChannels();
        if (u.inChannels() != vae.latentChannels() && !inpainting) {
            throw new dev.sdcfg.model.ModelLoadException(u.source() + ": 'in_channels' " + u.inChannels()
                    + " does not match the VAE's 'latent_channels' " + vae.latentChannels() + " ("
                    + vae.config().source() + "; depth UNets need other pipelines)");
        }
        if (u.outChannels() != u.inChannels() && !inpainting) {
            throw new dev.sdcfg.model.ModelLoadException(u.source() + ": 'out_channels' " + u.outChannels()
                    + " differs from 'in_channels' " + u.inChannels() + " (learned-variance UNets are not supported)");
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
        SdxlConditioning xl = null;
        try {
            tok = ClipTokenizer.load(folder.component(ModelFolder.TOKENIZER), 0);
            te = ClipTextModel.load(folder.component(ModelFolder.TEXT_ENCODER), options.variant(), ctx);
            if (folder.isXl()) {
                ClipTokenizer tok2 = ClipTokenizer.load(folder.component(ModelFolder.TOKENIZER_2), 0);
                try {
                    xl = new SdxlConditioning(tok2, ClipTextModel.loadWithProjection(
                            folder.component(ModelFolder.TEXT_ENCODER_2), options.variant(), ctx),
                            folder.forceZerosForEmptyPrompt());
                } catch (RuntimeException e) {
                    tok2.close();
                    throw e;
                }
            }
            un = UNet2DConditionModel.load(folder.component(ModelFolder.UNET), ctx, options.variant(),
                    options.attentionSliceSize());
            Path vaeDir = folder.component(ModelFolder.VAE);
            va = AutoencoderKL.load(vaeDir, AutoencoderKL.contextFor(
                    dev.sdcfg.model.vae.VaeConfig.read(vaeDir.resolve("config.json")), ctx), options.variant());
            Path name = modelFolder.toAbsolutePath().normalize().getFileName();
            return new StableDiffusionPipeline(name == null ? modelFolder.toString() : name.toString(),
                    modelFolder, tok, schedulerConfig, te, un, va, ctx, options, xl);
        } catch (RuntimeException e) {
            closeQuietly(tok, te, un, va, xl);
            throw e;
        }
    }

    /** A pipeline from already-built components (benchmarks with random weights). Takes ownership of them. */
    public static StableDiffusionPipeline assemble(String modelId, Path tokenizerDir, JsonConfig schedulerConfig,
                                                   ClipTextModel text, UNet2DConditionModel unet,
                                                   AutoencoderKL vae, ComputeContext ctx, PipelineOptions options) {
        return new StableDiffusionPipeline(modelId, null, ClipTokenizer.load(tokenizerDir, 0), schedulerConfig,
                text, unet, vae, ctx, options, null);
    }

    /**
     * An SDXL pipeline from already-built components (benchmarks with random weights; both tokenizers from
     * {@code tokenizerDir}, force_zeros_for_empty_prompt true). Takes ownership of them.
     */
    public static StableDiffusionPipeline assembleXl(String modelId, Path tokenizerDir, JsonConfig schedulerConfig,
                                                     ClipTextModel text, ClipTextModel text2,
                                                     UNet2DConditionModel unet, AutoencoderKL vae, ComputeContext ctx,
                                                     PipelineOptions options) {
        return new StableDiffusionPipeline(modelId, null, ClipTokenizer.load(tokenizerDir, 0), schedulerConfig,
                text, unet, vae, ctx, options, new SdxlConditioning(ClipTokenizer.load(tokenizerDir, 0), text2, true));
    }

    /** A 9-channel inpainting UNet (it can only run requests with init_image and mask). */
    public boolean isInpaintingUnet() {
        return unet.config().inChannels() != vae.latentChannels();
    }

    /**
     * A pipeline from components loaded elsewhere (a single-file checkpoint, {@code CheckpointLoader}); takes
     * ownership of them. {@code root} is the file they came from.
     */
    public static StableDiffusionPipeline fromComponents(String modelId, Path root, ClipTokenizer tokenizer,
                                                         JsonConfig schedulerConfig, ClipTextModel text,
                                                         UNet2DConditionModel unet, AutoencoderKL vae,
                                                         ComputeContext ctx, PipelineOptions options) {
        return new StableDiffusionPipeline(modelId, root, tokenizer, schedulerConfig, text, unet, vae, ctx, options, null);
    }

    /** {@link #fromComponents} for SDXL: also tokenizer_2 and text_encoder_2 (with projection). */
    public static StableDiffusionPipeline fromComponentsXl(String modelId, Path root, ClipTokenizer tokenizer,
                                                           JsonConfig schedulerConfig, ClipTextModel text,
                                                           UNet2DConditionModel unet, AutoencoderKL vae,
                                                           ComputeContext ctx, PipelineOptions options,
                                                           ClipTokenizer tokenizer2, ClipTextModel text2,
                                                           boolean forceZerosForEmptyPrompt) {
        return new StableDiffusionPipeline(modelId, root, tokenizer, schedulerConfig, text, unet, vae, ctx, options,
                new SdxlConditioning(tokenizer2, text2, forceZerosForEmptyPrompt));
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

    /** SDXL's tokenizer_2, or null for SD 1.x/2.x. */
    public ClipTokenizer sdxlTokenizer2() {
        return sdxl == null ? null : sdxl.tokenizer2();
    }

    /** SDXL's text_encoder_2, or null for SD 1.x/2.x. */
    public ClipTextModel sdxlTextEncoder2() {
        return sdxl == null ? null : sdxl.textEncoder2();
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
                options.clipSkip(), options.attentionSliceSize(), family());
    }

    /**
     * The model family: "sdxl" for a StableDiffusionXLPipeline; "sd2" for a UNet with SD 2.x's traits (OpenCLIP's
     * 1024-wide text tower or linear projections with v-prediction); else "sd1".
     */
    public String family() {
        if (sdxl != null) {
            return ModelInfo.FAMILY_SDXL;
        }
        boolean v = "v_prediction".equals(schedulerConfig.getString("prediction_type", "epsilon"));
        return textEncoder.hiddenSize() == 1024 || "gelu".equals(textEncoder.hiddenAct())
                || (unet.config().useLinearProjection() && v) ? "sd2" : "sd1";
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
        if (r.img2img() != null || isInpaintingUnet()) {
            try (Sampler s = newSampler(r)) {
                Img2Img.check(r, vae, s.order(), isInpaintingUnet());
            }
        }
        if (r.hires() != null) {
            try (Sampler s = newSampler(r)) {
                HiresPass.check(r, options.maxPixels(), vae.hasEncoder(), s.order());
            }
        }
        if (sdxl == null && r.sizeConditions() != null) {
            throw new InvalidRequestException("original_size", "original_size, crops_coords_top_left and"
                    + " target_size are SDXL conditioning; this model (" + family() + ") takes none");
        }
        if (sdxl == null) {
            PromptEmbeddings.forRequest(embeddings, r, tokenizer, textEncoder);
        } else {
            PromptEmbeddings.forRequestXl(embeddings, r, tokenizer, textEncoder, sdxl.tokenizer2(),
                    sdxl.textEncoder2());
        }
        if (r.promptSyntax() == dev.sdcfg.pipeline.prompt.PromptSyntax.A1111) {
            // weights, chunk counts and the embeddings the prompts name (read here): 422s at submission
            dev.sdcfg.pipeline.prompt.EmbeddingDatabase db = a1111Embeddings(r);
            chunks(chunker, r.prompt(), "prompt", db);
            chunks(chunker, r.negativePrompt() == null ? "" : r.negativePrompt(), "negative_prompt", db);
        }
        MemoryPlan plan = memoryPlan(r);
        if (plan != null && !plan.fits()) {
            throw tooLarge(plan, r);
        }
        if (plan != null && r.hires() != null && r.hires().upscaler() == HiresFix.Upscaler.LANCZOS
                && plan.vaeTile() > 0) {
            throw new InvalidRequestException(HiresPass.FIELD + ".upscaler", "at " + r.outputWidth() + "x"
                    + r.outputHeight() + " the VAE only fits this memory budget in tiles, and the lanczos upscaler"
                    + " encodes the upscaled image, which is not implemented in tiles: use the latent upscaler");
        }
        if (plan != null && r.img2img() != null && plan.vaeTile() > 0) {
            // the encoder's activations are about the decoder's: the plan tiles the decode; the encoder has no tiles
            throw new InvalidRequestException(Img2Img.FIELD, "at " + r.width() + "x" + r.height() + " the VAE only fits"
                    + " this memory budget in tiles, and encoding a start image in tiles is not implemented: use a"
                    + " smaller image");
        }
    }

    private InvalidRequestException tooLarge(MemoryPlan plan, GenerationRequest r) {
        if (r.hires() != null && memoryPlan(r.withHires(null)).fits()) { // only the larger second pass does not fit
            return new InvalidRequestException(HiresPass.FIELD + ".scale", "the second pass at " + r.outputWidth()
                    + "x" + r.outputHeight() + " " + plan.needs() + "; use a smaller scale or size");
        }
        return new InvalidRequestException("width", plan.needs() + "; use a smaller size (images are generated"
                + " one at a time, so n does not change the peak)");
    }

    /**
     * The memory plan for a request (images run one after another, each with its guidance pair), or null before
     * the model's memory was measured ({@link #calibrateMemory}, done by {@link #warmUp} and by the first job).
     */
    public MemoryPlan memoryPlan(GenerationRequest r) {
        MemoryPlanner planner = memoryPlanner;
        // with a second pass its larger size is the peak (scale ≥ 1); the whole job runs under that plan
        return planner == null ? null : planner.plan(r.outputWidth(), r.outputHeight(), true, memoryBudget);
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
            NDArray context = m.zeros(new Shape(1, tokenizer.maxLength(), u.contextDim()), ctx.dtype());
            NDArray t = m.zeros(new Shape(), DataType.FLOAT32); // timestep 0: made on the device, no upload
            SdxlConditioning.TextTime added = u.addition() == null ? null : new SdxlConditioning.TextTime(
                    m.zeros(new Shape(1, u.addition().textEmbedsDim()), ctx.dtype()),
                    m.zeros(new Shape(1, 6), ctx.dtype()));
            for (int i = 0; i < 2; i++) {
                int side = k << i;
                NDArray sample = m.zeros(new Shape(1, u.inChannels(), side, side), ctx.dtype());
                dev.sdcfg.runtime.MemoryProbe.start();
                try {
                    unetForward(sample, t, context, added).close();
                } finally {
                    unetBytes[i] = dev.sdcfg.runtime.MemoryProbe.stop();
                }
                NDArray latent = m.zeros(new Shape(1, vae.latentChannels(), side, side), ctx.dtype());
                dev.sdcfg.runtime.MemoryProbe.start();
                try {
                    vae.decode(latent).close();
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
        long weights = dev.sdcfg.runtime.MemoryBudget.bytesOf(unet.manager()) + vae.weightBytes() + textEncoder.weightBytes()
                + (sdxl == null ? 0 : sdxl.textEncoder2().weightBytes());
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
            throw tooLarge(plan, r);
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
            NDArray cond;
            NDArray uncond;
            SdxlConditioning.TextTime addedCond = null;
            SdxlConditioning.TextTime addedUncond = null;
            if (sdxl != null) {
                SdxlConditioning.Encoded[] pair = encodeXl(r, SizeConditions.of(r), warnings, job);
                uncond = pair[0].embeds();
                addedUncond = pair[0].added();
                cond = pair[1].embeds();
                addedCond = pair[1].added();
            } else {
                NDArray[] pair = encodePromptPair(r, warnings, job);
                cond = pair[0];
                uncond = pair[1];
            }
            long te = System.nanoTime() - te0;
            listener.onTextEncoded(te);
            timings.put("text_encode", te / 1e6);
            // SDXL's time ids hold the image size: the second pass is conditioned on its own
            SdxlConditioning.TextTime[] hiresAdded = null;
            if (r.hires() != null && sdxl != null) {
                SdxlConditioning.Encoded[] pair = encodeXl(r, SizeConditions.of(HiresPass.request(r, null)), null, job);
                hiresAdded = new SdxlConditioning.TextTime[] {pair[1].added(), pair[0].added()};
            }
            // inpainting "only masked": the model runs on the mask's box, fill-resized to the request's size
            InitImage fullResMask = r.img2img() != null && r.img2img().fullRes() ? r.img2img().effectiveMask() : null;
            MaskCrop crop = fullResMask == null ? null : MaskCrop.of(fullResMask, r.width(), r.height(),
                    r.img2img().fullResPadding());
            GenerationRequest run = crop == null ? r : crop.request(r, fullResMask);
            double denoise = 0;
            double decode = 0;
            for (int i = 0; i < r.n(); i++) {
                long seed = r.seed() + i;
                long d0 = System.nanoTime();
                NDArray latents;
                if (r.hires() == null) {
                    latents = denoise(run, seed, i, cond, uncond, addedCond, addedUncond, listener, job, null);
                } else {
                    int total = r.stepsRun();
                    latents = denoise(r, seed, i, cond, uncond, addedCond, addedUncond,
                            new PassProgress(listener, 0, total), job, null);
                    latents = hiresPass(r, seed, i, latents, cond, uncond,
                            hiresAdded == null ? null : hiresAdded[0], hiresAdded == null ? null : hiresAdded[1],
                            new PassProgress(listener, Img2Img.runSteps(r), total), job, null);
                }
                long d1 = System.nanoTime();
                NDArray image = decode(latents);
                byte[] rgb = toRgbBytes(image);
                if (crop != null) { // pasted back over the original through the (blurred) mask: apply_overlay
                    rgb = crop.overlay(fullResMask, r.img2img().image(), new InitImage(r.width(), r.height(), rgb));
                }
                long d2 = System.nanoTime();
                listener.onVaeDecoded(d2 - d1);
                denoise += (d1 - d0) / 1e6;
                decode += (d2 - d1) / 1e6;
                images.add(new GeneratedImage(PngEncoder.encodeRgb(rgb, r.outputWidth(), r.outputHeight(),
                        pngText(r, seed)), seed, r.outputWidth(), r.outputHeight()));
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

    private volatile java.util.function.Supplier<List<dev.sdcfg.model.library.ModelFolderScan.Entry>> embeddings;

    @Override
    public void useEmbeddings(java.util.function.Supplier<List<dev.sdcfg.model.library.ModelFolderScan.Entry>> folder) {
        embeddings = folder;
    }

    /** The prompt's text embedding [1, 77, D] (penultimate layer when clip_skip is 2). */
    public NDArray encodePrompt(String prompt, String field, List<String> warnings, NDManager into) {
        return encodePrompt(prompt, field, warnings, into, null);
    }

    /**
     * {@link #encodePrompt(String, String, List, NDManager)} with textual-inversion tokens (null: none): diffusers'
     * maybe_convert_prompt ids, the embeddings' vectors appended to the token-embedding table.
     */
    public NDArray encodePrompt(String prompt, String field, List<String> warnings, NDManager into,
                                dev.sdcfg.model.ti.TextualInversionTokens ti) {
        ClipTokenizer.Encoding enc = ti == null ? tokenizer.encode(prompt) : ti.encode(prompt);
        if (enc.truncated() && warnings != null) {
            warnings.add(field + " was cut to " + tokenizer.maxLength() + " tokens (it has " + enc.untruncatedLength()
                    + "): the rest is ignored");
        }
        NDArray ids = into.create(enc.ids(), new Shape(1, enc.ids().length));
        NDArray emb;
        if (ti == null) {
            emb = textEncoder.encode(ids, options.clipSkip());
        } else {
            try (NDManager rows = into.newSubManager()) {
                emb = textEncoder.encode(ids, options.clipSkip(), ti.extraRows(rows, ctx.dtype()));
                emb.attach(into);
            }
        }
        emb.attach(into);
        return emb;
    }

    /**
     * SDXL's {@code encode_prompt} (negative first, prompt second) with the time ids of {@code sizes}; an empty
     * negative prompt means none (zeros under force_zeros_for_empty_prompt). In A1111 syntax see
     * {@link #encodeXlA1111}.
     */
    SdxlConditioning.Encoded[] encodeXl(GenerationRequest r, SizeConditions sizes,
                                        List<String> warnings, NDManager into) {
        if (r.promptSyntax() == dev.sdcfg.pipeline.prompt.PromptSyntax.A1111) {
            return encodeXlA1111(r, sizes, into);
        }
        warnTruncated(r.prompt(), "prompt", warnings);
        var ti = PromptEmbeddings.forRequestXl(embeddings, r, tokenizer, textEncoder, sdxl.tokenizer2(),
                sdxl.textEncoder2());
        SdxlConditioning.Encoded cond = sdxl.encode(r.prompt(), tokenizer, textEncoder, options.clipSkip(), sizes, into,
                ti);
        if (r.negativePrompt() != null && !r.negativePrompt().isEmpty()) {
            warnTruncated(r.negativePrompt(), "negative_prompt", warnings);
        }
        SdxlConditioning.Encoded uncond = sdxl.encodeNegative(r.negativePrompt(), cond, tokenizer, textEncoder, sizes,
                into, ti);
        return new SdxlConditioning.Encoded[] {uncond, cond};
    }

    /**
     * A1111 syntax on SDXL ({@link SdxlConditioning#encodeChunked}): prompt and negative prompt chunked and weighted
     * per encoder; the layers are diffusers' as in the plain path (the prompt's hidden_states[-(clip_skip + 2)], the
     * negative's [-2]), so a prompt without markup within 75 tokens gives the plain path's bits. An empty negative
     * prompt under force_zeros_for_empty_prompt is zeros shaped like the whole prompt (diffusers; A1111 zeroes its
     * one empty chunk and pads that with the empty prompt's encoding). Otherwise the shorter side is padded with
     * the empty prompt's encoding (A1111's empty chunk [BOS, EOS, pad...] through both encoders,
     * hidden_states[-2]) to the same number
     * of chunks, as A1111's pad_cond_uncond does; the pooled embeds stay each side's chunk 0.
     */
    private SdxlConditioning.Encoded[] encodeXlA1111(GenerationRequest r, SizeConditions sizes, NDManager into) {
        dev.sdcfg.pipeline.prompt.EmbeddingDatabase db = a1111Embeddings(r);
        SdxlConditioning.Encoded cond = sdxl.encodeChunked(chunks(chunker, r.prompt(), "prompt", db),
                chunks(sdxl.chunker2(), r.prompt(), "prompt", db), textEncoder, options.clipSkip(), sizes, into);
        SdxlConditioning.Encoded uncond;
        if ((r.negativePrompt() == null || r.negativePrompt().isEmpty()) && sdxl.forceZerosForEmptyPrompt()) {
            uncond = sdxl.encodeNegative(null, cond, tokenizer, textEncoder, sizes, into);
        } else {
            String negative = r.negativePrompt() == null ? "" : r.negativePrompt();
            uncond = sdxl.encodeChunked(chunks(chunker, negative, "negative_prompt", db),
                    chunks(sdxl.chunker2(), negative, "negative_prompt", db), textEncoder, 0, sizes, into);
        }
        long lc = cond.embeds().getShape().get(1);
        long lu = uncond.embeds().getShape().get(1);
        if (lc != lu) {
            NDArray empty = sdxl.encodeChunked(chunker.chunk(""), sdxl.chunker2().chunk(""), textEncoder, 0, sizes,
                    into).embeds();
            if (lc < lu) {
                cond = new SdxlConditioning.Encoded(padWithEmptyChunks(cond.embeds(), empty, lu, into), cond.added());
            } else {
                uncond = new SdxlConditioning.Encoded(padWithEmptyChunks(uncond.embeds(), empty, lc, into),
                        uncond.added());
            }
        }
        return new SdxlConditioning.Encoded[] {uncond, cond};
    }

    private void warnTruncated(String text, String field, List<String> warnings) {
        ClipTokenizer.Encoding enc = tokenizer.encode(text);
        if (enc.truncated() && warnings != null) {
            warnings.add(field + " was cut to " + tokenizer.maxLength() + " tokens (it has " + enc.untruncatedLength()
                    + "): the rest is ignored");
        }
    }

    /**
     * The (cond, uncond) embeddings of a request. In A1111 syntax both are chunked and weighted
     * ({@link dev.sdcfg.pipeline.prompt.WeightedPromptEncoder}) and the shorter is padded with the empty prompt's
     * embedding to the same number of 77-token chunks, as A1111's {@code pad_cond_uncond} does (its empty chunk
     * [BOS, EOS…] with weights 1 is exactly the plain empty-prompt embedding).
     */
    public NDArray[] encodePromptPair(GenerationRequest r, List<String> warnings, NDManager into) {
        boolean emptyNegative = r.negativePrompt() == null || r.negativePrompt().isEmpty();
        if (r.promptSyntax() == dev.sdcfg.pipeline.prompt.PromptSyntax.PLAIN) {
            var ti = PromptEmbeddings.forRequest(embeddings, r, tokenizer, textEncoder);
            NDArray cond = encodePrompt(r.prompt(), "prompt", warnings, into, ti);
            NDArray uncond = emptyNegative ? emptyPromptEmbedding()
                    : encodePrompt(r.negativePrompt(), "negative_prompt", warnings, into, ti);
            return new NDArray[] {cond, uncond};
        }
        dev.sdcfg.pipeline.prompt.EmbeddingDatabase db = a1111Embeddings(r);
        NDArray cond = encodeWeighted(chunks(chunker, r.prompt(), "prompt", db), into);
        NDArray uncond = emptyNegative ? emptyPromptEmbedding()
                : encodeWeighted(chunks(chunker, r.negativePrompt(), "negative_prompt", db), into);
        long lc = cond.getShape().get(1);
        long lu = uncond.getShape().get(1);
        if (lc < lu) {
            cond = padWithEmptyChunks(cond, lu, into);
        } else if (lu < lc) {
            uncond = padWithEmptyChunks(uncond, lc, into);
        }
        return new NDArray[] {cond, uncond};
    }

    /** A1111's embedding database for {@code r} (null: no embeddings folder, or plain syntax). */
    private dev.sdcfg.pipeline.prompt.EmbeddingDatabase a1111Embeddings(GenerationRequest r) {
        return PromptEmbeddings.database(embeddings, r, tokenizer, sdxl != null, textEncoder.hiddenSize(),
                sdxl == null ? 0 : sdxl.textEncoder2().hiddenSize());
    }

    /**
     * A1111 chunks of a prompt with the embeddings of {@code db} (null: none); a bad weight, too many chunks or an
     * embedding it names that cannot be used is a 422 naming {@code field}.
     */
    private dev.sdcfg.pipeline.prompt.PromptChunker.Chunks chunks(dev.sdcfg.pipeline.prompt.PromptChunker chunker,
                                                                 String prompt, String field,
                                                                 dev.sdcfg.pipeline.prompt.EmbeddingDatabase db) {
        dev.sdcfg.pipeline.prompt.PromptChunker.Chunks c;
        try {
            c = chunker.chunk(prompt, db);
        } catch (dev.sdcfg.pipeline.prompt.PromptAttention.InvalidWeightException
                 | dev.sdcfg.pipeline.prompt.EmbeddingDatabase.UnusableEmbeddingException e) {
            throw new InvalidRequestException(field, e.getMessage());
        }
        if (c.size() > options.maxPromptChunks()) {
            throw new InvalidRequestException(field, field + " takes " + c.size() + " chunks of "
                    + dev.sdcfg.pipeline.prompt.PromptChunker.CHUNK_LENGTH + " tokens (" + c.tokenCount()
                    + " tokens); at most " + options.maxPromptChunks() + " are allowed (sd.limits.max-prompt-chunks)");
        }
        return c;
    }

    /** A1111's weighted chunks; a chunk with embeddings looks their vectors up past the vocabulary. */
    private NDArray encodeWeighted(dev.sdcfg.pipeline.prompt.PromptChunker.Chunks chunks, NDManager into) {
        return dev.sdcfg.pipeline.prompt.WeightedPromptEncoder.encode(chunks,
                PromptEmbeddings.chunkEncoder(textEncoder, chunks, options.clipSkip()), into);
    }

    private NDArray padWithEmptyChunks(NDArray emb, long length, NDManager into) {
        return padWithEmptyChunks(emb, emptyPromptEmbedding(), length, into);
    }

    private static NDArray padWithEmptyChunks(NDArray emb, NDArray empty, long length, NDManager into) {
        NDList parts = new NDList(emb);
        for (long l = emb.getShape().get(1); l < length; l += empty.getShape().get(1)) {
            parts.add(empty);
        }
        NDArray out = NDArrays.concat(parts, 1);
        out.attach(into);
        return out;
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
        Shape shape = new Shape(1, vae.latentChannels(), height / vaeScaleFactor, width / vaeScaleFactor);
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
        return denoise(r, seed, imageIndex, cond, uncond, null, null, listener, into, observer);
    }

    /** {@link #denoise} with SDXL's added conditioning of each side (both null for SD 1.x/2.x). */
    NDArray denoise(GenerationRequest r, long seed, int imageIndex, NDArray cond, NDArray uncond,
                    SdxlConditioning.TextTime addedCond, SdxlConditioning.TextTime addedUncond,
                    GenerationListener listener, NDManager into, StepObserver observer) {
        return denoise(r, null, seed, imageIndex, cond, uncond, addedCond, addedUncond, listener, into, observer);
    }

    /**
     * The high-resolution second pass of one image ({@link HiresFix}, A1111's {@code sample_hr_pass}) from the first
     * pass's final {@code firstPass} latents (closed here): upscaled (latent: bilinear on the latents; lanczos:
     * decoded, PIL's LANCZOS in 8 bits, re-encoded by image to image), then image to image at the target size with
     * the image's seed drawn afresh (A1111 makes a new generator from the seeds for it). Returns the final latents
     * at the target size, attached to {@code into}; {@code observer} sees the second pass's steps.
     */
    NDArray hiresPass(GenerationRequest r, long seed, int imageIndex, NDArray firstPass, NDArray cond, NDArray uncond,
                      SdxlConditioning.TextTime addedCond, SdxlConditioning.TextTime addedUncond,
                      GenerationListener listener, NDManager into, StepObserver observer) {
        HiresFix h = r.hires();
        int width = h.targetSide(r.width());
        int height = h.targetSide(r.height());
        if (h.upscaler() == HiresFix.Upscaler.LATENT) {
            NDArray up = HiresPass.upscaleLatents(firstPass, height / vaeScaleFactor, width / vaeScaleFactor, into);
            firstPass.close();
            try {
                return denoise(HiresPass.request(r, null), new LatentStart(up, h.strength()), seed, imageIndex, cond,
                        uncond, addedCond, addedUncond, listener, into, observer);
            } finally {
                up.close();
            }
        }
        NDArray image = decode(firstPass);
        byte[] rgb = toRgbBytes(image); // diffusers' output_type "pil": round(clamp(x / 2 + 0.5) · 255)
        image.close();
        firstPass.close();
        InitImage upscaled = new InitImage(width, height,
                dev.sdcfg.pipeline.image.PilResample.lanczos(rgb, r.width(), r.height(), 3, width, height));
        return denoise(HiresPass.request(r, new Img2ImgInput(upscaled, h.strength())), null, seed, imageIndex, cond,
                uncond, addedCond, addedUncond, listener, into, observer);
    }

    /** A denoising run that starts from given latents noised at {@code strength} (the hires latent upscale). */
    record LatentStart(NDArray latents, double strength) {
    }

    /**
     * {@link #denoise} from {@code latentStart} when it is not null (the hires latent upscale), else as the request
     * says (noise, or its start image).
     */
    NDArray denoise(GenerationRequest r, LatentStart latentStart, long seed, int imageIndex, NDArray cond,
                    NDArray uncond, SdxlConditioning.TextTime addedCond, SdxlConditioning.TextTime addedUncond,
                    GenerationListener listener, NDManager into, StepObserver observer) {
        NDManager work = into.newSubManager();
        // image to image runs the last steps of the schedule only
        int runSteps = latentStart == null ? Img2Img.runSteps(r) : Img2Img.runSteps(r.steps(), latentStart.strength());
        try (GuidancePlan plan = r.guidance().plan(runSteps);
             Sampler sampler = newSampler(r);
             // noise for stochastic samplers, drawn ahead and moved once: at most one draw per model call
             PrefetchedNoise noise = new PrefetchedNoise(sampler.timesteps().length)) {
            double[] timesteps = sampler.timesteps();
            int calls = timesteps.length;
            int first = latentStart == null ? Img2Img.firstCall(r, sampler)
                    : Img2Img.skippedSteps(r.steps(), latentStart.strength()) * sampler.order();
            NDArray latents;
            ImageStart start = latentStart != null
                    ? ImageStart.fromLatents(latentStart.latents(), seed, sampler, first, ctx.dtype(), work)
                    : r.img2img() == null ? null : ImageStart.prepare(vae, r.img2img(), seed, sampler, first,
                    unet.config().inChannels(), ctx.dtype(), work);
            if (start != null) {
                latents = start.latents();
            } else {
                latents = initialNoise(seed, r.width(), r.height(), work);
                latents = HostScalars.mul(latents, sampler.initNoiseSigma());
            }
            // concat attaches to its first operand's manager, which is the pipeline's own for the cached empty
            // prompt: move the pair to this job's manager or every job would leak one array
            NDArray pair = NDArrays.concat(new NDList(uncond, cond), 0);
            pair.attach(work);
            SdxlConditioning.TextTime addedPair = addedCond == null ? null
                    : SdxlConditioning.TextTime.pair(addedUncond, addedCond);
            if (addedPair != null) {
                addedPair.textEmbeds().attach(work);
                addedPair.timeIds().attach(work);
            }
            NDArray ts = timestepTensor(timesteps, work);
            // the cheap projection is SD 1.x/2.x's latent space: SDXL's would come out in wrong colours, so none there
            int previewEvery = sdxl == null && LatentPreview.supports(unet.config().inChannels())
                    ? listener.previewEvery() : 0;
            long s0 = System.nanoTime();
            for (int c = first; c < calls; c++) {
                if (listener.isCanceled()) {
                    throw new GenerationCanceledException("canceled at model call " + (c + 1) + " of " + calls);
                }
                // schedules are defined over the requested steps; samplers with extra model calls (Heun, PNDM)
                // map each call to the step it belongs to
                int step = (int) ((long) (c - first) * runSteps / (calls - first));
                // progress counts the requested steps; a step may take several model calls (Heun, PNDM's first)
                boolean stepDone = c == calls - 1
                        || (int) ((long) (c + 1 - first) * runSteps / (calls - first)) != step;
                // previews only on their steps: x0 is read back there and nowhere else (none after the last step)
                boolean previewNow = previewEvery > 0 && stepDone && (step + 1) % previewEvery == 0
                        && step + 1 < runSteps;
                LatentPreview.Image preview = null;
                NDArray next;
                try (dev.sdcfg.runtime.ForwardScope scope = new dev.sdcfg.runtime.ForwardScope()) {
                    NDArray modelIn = sampler.scaleModelInput(latents, c);
                    if (start != null) {
                        modelIn = start.unetInput(modelIn); // 9-channel inpainting: + mask, masked-image latents
                    }
                    NDArray t = ts.get(c);
                    NDArray guided;
                    if (plan.isZeroInit(step)) {
                        guided = modelIn.zerosLike();
                    } else if (plan.needsUnconditional(step) && splitGuidancePair) {
                        // the memory plan: the pair as two batch-1 calls (same numbers up to batch-size kernels)
                        long u0 = System.nanoTime();
                        NDArray outU = unetForward(modelIn, t, uncond, addedUncond);
                        NDArray outC = unetForward(modelIn, t, cond, addedCond);
                        listener.onUnetForward(System.nanoTime() - u0);
                        guided = plan.guide(step, outU, outC);
                    } else if (plan.needsUnconditional(step)) {
                        long u0 = System.nanoTime();
                        NDArray out = unetForward(NDArrays.concat(new NDList(modelIn, modelIn), 0), t, pair, addedPair);
                        listener.onUnetForward(System.nanoTime() - u0);
                        NDList ut = out.split(2, 0);
                        guided = plan.guide(step, ut.get(0), ut.get(1));
                    } else {
                        long u0 = System.nanoTime();
                        NDArray tOnly = unetForward(modelIn, t, cond, addedCond);
                        listener.onUnetForward(System.nanoTime() - u0);
                        guided = plan.guide(step, null, tOnly);
                    }
                    if (previewNow) {
                        preview = LatentPreview.render(sampler.denoised(guided, c, latents));
                    }
                    next = sampler.step(guided, c, latents, noise);
                    if (start != null) {
                        next = start.afterStep(next, c, calls, sampler); // 4-channel inpainting: keep the unmasked
                    }
                    next.attach(work);
                    ai.djl.ndarray.NDScope.unregister(next);
                }
                latents.close(); // samplers keep what they need from earlier steps themselves
                latents = next;
                if (observer != null) {
                    observer.afterStep(c - first, latents);
                }
                if (stepDone) {
                    long now = System.nanoTime();
                    listener.onStep(imageIndex, step, runSteps, now - s0);
                    s0 = now;
                }
                if (preview != null) {
                    listener.onPreview(imageIndex, step, runSteps, preview);
                }
            }
            latents.attach(into);
            return latents;
        } finally {
            work.close();
        }
    }

    /** The UNet on one batch, with SDXL's added conditioning when there is one (null otherwise). */
    private NDArray unetForward(NDArray x, NDArray t, NDArray context, SdxlConditioning.TextTime added) {
        return added == null ? unet.forward(x, t, context)
                : unet.forward(x, t, context, added.textEmbeds(), added.timeIds(), null);
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

    /** The infotext's Model hash, computed once on first use (worker thread): see {@link ModelHash}. */
    private String modelHash() {
        if (modelHash == null) {
            String h = ModelHash.of(root, options.variant());
            modelHash = h == null ? "" : h;
        }
        return modelHash.isEmpty() ? null : modelHash;
    }

    private Map<String, String> pngText(GenerationRequest r, long seed) {
        Map<String, String> t = new LinkedHashMap<>();
        // A1111's chunk, first: what its PNG Info, Civitai and other infotext readers parse
        t.put("parameters", GenerationInfotext.write(r, seed, modelId, modelHash(),
                schedulerConfig.getString("_class_name", "default"), options.clipSkip()));
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
        if (r.img2img() != null) {
            t.put("strength", Double.toString(r.img2img().strength()));
            if (r.img2img().maskBlur() > 0) {
                t.put("mask_blur", Integer.toString(r.img2img().maskBlur()));
            }
            if (r.img2img().fullRes()) {
                t.put("inpaint_full_res_padding", Integer.toString(r.img2img().fullResPadding()));
            }
            if (r.img2img().maskedContent() != MaskedContent.ORIGINAL) {
                t.put("masked_content", r.img2img().maskedContent().value());
            }
        }
        if (r.hires() != null) {
            t.put("hires", r.hires().canonicalJson());
        }
        t.put("guidance", r.guidance().canonicalJson());
        t.put("size", r.outputWidth() + "x" + r.outputHeight());
        if (r.sizeConditions() != null) {
            t.put("size_conditions", java.util.Arrays.toString(r.sizeConditions().timeIds()));
        }
        t.put("model", modelId);
        t.put("software", "sd-guidance-service");
        return t;
    }

    @Override
    public void warmUp() {
        int side = vaeScaleFactor * 8;
        GenerationRequest r = new GenerationRequest("warm-up", "", side, side, 1, null, null, null, 0, 1);
        if (isInpaintingUnet()) { // it runs inpainting only: a grey image, all repainted
            byte[] grey = new byte[side * side * 3];
            java.util.Arrays.fill(grey, (byte) 128);
            byte[] white = new byte[side * side * 3];
            java.util.Arrays.fill(white, (byte) 255);
            r = new GenerationRequest("warm-up", "", side, side, 1, null, null, null, 0, 1,
                    new Img2ImgInput(new InitImage(side, side, grey), 1.0, new InitImage(side, side, white)));
        }
        calibrateMemory();
        generate(r, GenerationListener.NONE);
    }

    @Override
    public void close() {
        closeQuietly(tokenizer, textEncoder, unet, vae, sdxl);
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
