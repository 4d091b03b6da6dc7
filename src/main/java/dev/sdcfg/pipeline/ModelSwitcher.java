package dev.sdcfg.pipeline;

import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.library.ModelLibrary;
import dev.sdcfg.runtime.ComputeContext;

import dev.sdcfg.sampler.SamplerInfo;

import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.LongConsumer;

/**
 * The engine when a models folder is configured: one model resident at a time (one per worker, i.e. per GPU), the
 * one a request's {@code model} names loaded on demand. {@link #generate} runs on the worker thread, so a swap
 * (close the resident model, then load the next: never two in memory) happens there too, between jobs; its duration
 * goes to {@code swapNanos} (the {@code sd.model.swap} timer). A request without {@code model} runs on the default.
 *
 * <p>{@link #validate} and the description methods answer from the resident model (they touch no NDArray); the
 * name of the resident model is published in {@code resident} for the queue's preference.
 */
public final class ModelSwitcher implements ImageGenerator {

    private static final System.Logger LOG = System.getLogger(ModelSwitcher.class.getName());

    private final ModelLibrary library;
    private final String defaultModel;
    private final ComputeContext ctx;
    private final PipelineOptions options;
    private final AtomicReference<String> resident;
    private final LongConsumer swapNanos;
    private volatile StableDiffusionPipeline current;
    /** Facts of the last loaded model (answers while a swap is under way or after a failed one). */
    private volatile ModelInfo lastInfo;

    /** Loads the default model (on the calling thread: the worker's). */
    public ModelSwitcher(ModelLibrary library, String defaultModel, ComputeContext ctx, PipelineOptions options,
                         AtomicReference<String> resident, LongConsumer swapNanos) {
        this.library = library;
        this.defaultModel = defaultModel;
        this.ctx = ctx;
        this.options = options;
        this.resident = resident;
        this.swapNanos = swapNanos;
        load(defaultModel);
    }

    public String defaultModel() {
        return defaultModel;
    }

    /** The name of the model in memory, or null between a failed load and the next. */
    public String residentModel() {
        return resident.get();
    }

    private void load(String name) {
        ModelLibrary.Entry e = library.find(name).orElseThrow(() -> new ModelLoadException("model '" + name
                + "' is not in the models folder " + library.dir()));
        StableDiffusionPipeline p = CheckpointLoader.load(e.path(), ctx, options);
        current = p;
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
        if (!want.equals(resident.get()) || current == null) {
            swapTo(want);
        }
        return current.generate(request, listener);
    }

    /** Closes the resident model, then loads {@code name}; a failed load leaves none resident. */
    private void swapTo(String name) {
        long t0 = System.nanoTime();
        StableDiffusionPipeline old = current;
        String from = resident.get();
        current = null;
        resident.set(null);
        if (old != null) {
            old.close();
        }
        load(name);
        current.warmUp();
        long took = System.nanoTime() - t0;
        swapNanos.accept(took);
        LOG.log(System.Logger.Level.INFO, String.format("Model swap %s -> %s took %.1f s", from, name, took / 1e9));
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
