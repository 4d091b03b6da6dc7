package dev.sdcfg.pipeline;

import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.library.ModelLibrary;
import dev.sdcfg.runtime.ComputeContext;

import dev.sdcfg.sampler.SamplerInfo;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.function.LongConsumer;

/**
 * The engine when a models folder or a LoRA folder is configured: one model resident at a time (one per worker, i.e.
 * per GPU), built for the model a request's {@code model} names with the LoRAs its {@code loras} name merged in, and
 * rebuilt on demand when a job asks for another model or another LoRA set. {@link #generate} runs on the worker
 * thread, so a swap (close the resident model, then load the next: never two in memory) happens there too, between
 * jobs; its duration goes to {@code swapNanos} (the {@code sd.model.swap} timer). A request without {@code model}
 * runs on the default. Every build reads the checkpoint afresh, so LoRA sets never accumulate ({@link CheckpointLoader}).
 *
 * <p>{@link #validate} and the description methods answer from the resident model (they touch no NDArray); the
 * name of the resident model is published in {@code resident} for the queue's preference.
 */
public final class ModelSwitcher implements ImageGenerator {

    private static final System.Logger LOG = System.getLogger(ModelSwitcher.class.getName());

    private final Function<String, Path> models;
    private final Function<String, Path> loraFiles;
    private final String defaultModel;
    private final ComputeContext ctx;
    private final PipelineOptions options;
    private final AtomicReference<String> resident;
    private final LongConsumer swapNanos;
    private volatile StableDiffusionPipeline current;
    /** The LoRA set the resident model was built with (canonical). */
    private volatile List<LoraWeight> currentLoras = List.of();
    /** Facts of the last loaded model (answers while a swap is under way or after a failed one). */
    private volatile ModelInfo lastInfo;

    /** Loads the default model (on the calling thread: the worker's). */
    public ModelSwitcher(ModelLibrary library, String defaultModel, ComputeContext ctx, PipelineOptions options,
                         AtomicReference<String> resident, LongConsumer swapNanos) {
        this(name -> library.find(name).orElseThrow(() -> new ModelLoadException("model '" + name
                + "' is not in the models folder " + library.dir())).path(), defaultModel, noLoras(), ctx, options,
                resident, swapNanos);
    }

    /**
     * Loads the default model (on the calling thread: the worker's).
     *
     * @param models    model name → its folder or file
     * @param loraFiles LoRA name → its file
     */
    public ModelSwitcher(Function<String, Path> models, String defaultModel, Function<String, Path> loraFiles,
                         ComputeContext ctx, PipelineOptions options, AtomicReference<String> resident,
                         LongConsumer swapNanos) {
        this.models = models;
        this.loraFiles = loraFiles;
        this.defaultModel = defaultModel;
        this.ctx = ctx;
        this.options = options;
        this.resident = resident;
        this.swapNanos = swapNanos;
        load(defaultModel, List.of());
    }

    static Function<String, Path> noLoras() {
        return name -> {
            throw new ModelLoadException("LoRA '" + name + "' asked for, but no LoRA folder (sd.loras.dir) is set");
        };
    }

    public String defaultModel() {
        return defaultModel;
    }

    /** The name of the model in memory, or null between a failed load and the next. */
    public String residentModel() {
        return resident.get();
    }

    private void load(String name, List<LoraWeight> loras) {
        StableDiffusionPipeline p = CheckpointLoader.load(models.apply(name), ctx, options, loras, loraFiles);
        p.useEmbeddings(embeddings);
        current = p;
        currentLoras = loras;
        lastInfo = p.modelInfo();
        resident.set(name);
    }

    private StableDiffusionPipeline require() {
        StableDiffusionPipeline p = current;
        if (p == null) {
            throw new ModelLoadException("no model is loaded (the last swap failed)");
        }
        return p;
    }

    @Override
    public GenerationResult generate(GenerationRequest request, GenerationListener listener) {
        String want = request.model() == null ? defaultModel : request.model();
        List<LoraWeight> loras = LoraWeight.canonical(request.loras());
        if (!want.equals(resident.get()) || current == null || !loras.equals(currentLoras)) {
            swapTo(want, loras);
        }
        return current.generate(request, listener);
    }

    /** Closes the resident model, then loads {@code name} with {@code loras}; a failed load leaves none resident. */
    private void swapTo(String name, List<LoraWeight> loras) {
        long t0 = System.nanoTime();
        StableDiffusionPipeline old = current;
        String from = resident.get() + (currentLoras.isEmpty() ? "" : " [" + LoraWeight.describe(currentLoras) + "]");
        current = null;
        resident.set(null);
        if (old != null) {
            old.close();
        }
        currentLoras = List.of();
        load(name, loras);
        current.warmUp();
        long took = System.nanoTime() - t0;
        swapNanos.accept(took);
        LOG.log(System.Logger.Level.INFO, String.format("Model swap %s -> %s took %.1f s", from,
                name + (loras.isEmpty() ? "" : " [" + LoraWeight.describe(loras) + "]"), took / 1e9));
    }

    @Override
    public ModelInfo modelInfo() {
        StableDiffusionPipeline p = current;
        return p != null ? p.modelInfo() : lastInfo;
    }

    @Override
    public Map<String, Object> guidanceCatalog() {
        return require().guidanceCatalog();
    }

    @Override
    public List<SamplerInfo> samplers() {
        return require().samplers();
    }

    @Override
    public void validate(GenerationRequest request) {
        StableDiffusionPipeline p = current;
        if (p != null) {
            p.validate(request); // model-independent limits; the named model's own checks run when it is loaded
        }
    }

    private volatile java.util.function.Supplier<List<dev.sdcfg.model.library.ModelFolderScan.Entry>> embeddings;

    @Override
    public void useEmbeddings(java.util.function.Supplier<List<dev.sdcfg.model.library.ModelFolderScan.Entry>> folder) {
        embeddings = folder;
        StableDiffusionPipeline p = current;
        if (p != null) {
            p.useEmbeddings(folder);
        }
    }

    @Override
    public void warmUp() {
        require().warmUp();
    }

    @Override
    public void close() {
        StableDiffusionPipeline p = current;
        current = null;
        resident.set(null);
        if (p != null) {
            p.close();
        }
    }
}
