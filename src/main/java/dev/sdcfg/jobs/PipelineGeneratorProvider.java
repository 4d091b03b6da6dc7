package dev.sdcfg.jobs;

import dev.sdcfg.model.EmbeddedDemoModel;
import dev.sdcfg.pipeline.CheckpointLoader;
import dev.sdcfg.pipeline.ImageGenerator;
import dev.sdcfg.pipeline.ModelSwitcher;
import dev.sdcfg.pipeline.PipelineOptions;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.CpuKernels;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.nio.file.Path;
import java.util.Optional;

/**
 * The real engine: {@link CheckpointLoader#load} on the folder or single-file checkpoint named by {@code sd.model.path}
 * ({@code SD_MODEL_PATH}), or on the extracted {@link EmbeddedDemoModel} when none is configured. {@code sd.device},
 * {@code sd.dtype} → {@link ComputeContext#resolve}; {@code sd.model.variant}, {@code sd.attention.slice-size},
 * {@code sd.clip-skip}, {@code sd.limits.max-pixels} → {@link PipelineOptions}. With {@code sd.models.dir} a
 * {@link ModelSwitcher} serves every model of that folder instead.
 */
@ApplicationScoped
public class PipelineGeneratorProvider implements GeneratorProvider {

    public static final String NAME = "pipeline";
    private static final Logger LOG = Logger.getLogger(PipelineGeneratorProvider.class);

    @Inject
    ServiceConfig config;

    @Inject
    ModelCatalog catalog;

    @Inject
    io.micrometer.core.instrument.MeterRegistry registry;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String describe() {
        if (catalog.enabled()) {
            return "models folder " + catalog.library().orElseThrow().dir();
        }
        return configuredFolder().map(p -> "diffusers folder " + p)
                .orElse("embedded demo model (64 px scenes of coloured shapes, tools/demo-model)");
    }

    @Override
    public ImageGenerator create() {
        ImageGenerator g = createGenerator();
        if (catalog.embeddingsDir().isPresent()) {
            LOG.infof("Textual-inversion folder %s: %s", catalog.embeddingsDir().get(), catalog.embeddings().stream()
                    .map(dev.sdcfg.model.library.ModelFolderScan.Entry::name).toList());
            g.useEmbeddings(catalog::embeddings);
        }
        return g;
    }

    private ImageGenerator createGenerator() {
        if (catalog.enabled()) {
            return createSwitcher();
        }
        Path folder = configuredFolder().map(Path::of).orElseGet(() -> {
            Path dir = EmbeddedDemoModel.extract();
            LOG.warnf("No model folder configured (sd.model.path / SD_MODEL_PATH): using the EMBEDDED DEMO MODEL, "
                    + "a tiny Stable Diffusion with RANDOM WEIGHTS. It exercises the API but every image is noise. "
                    + "Extracted to %s. Set SD_MODEL_PATH to a diffusers SD 1.x/2.x folder for real images.", dir);
            return dir;
        });
        ComputeContext ctx = ComputeContext.resolve(config.device(), config.dtype());
        PipelineOptions options = options();
        LOG.infof("Loading %s on %s (%s)", folder, ctx, options);
        CpuKernels.State kernels = CpuKernels.state();
        LOG.infof("CPU kernels: oneDNN ISA cap %s, %s; CPU %s; convolution self-check %s", kernels.onednnMaxCpuIsa(),
                kernels.onednnMaxCpuIsaSource(), kernels.cpuVectorIsa(), kernels.selfCheck());
        if (catalog.lorasDir().isPresent()) {
            // LoRAs without a models folder: the one model, rebuilt when a job's LoRA set differs
            LOG.infof("LoRA folder %s: %s", catalog.lorasDir().get(), catalog.loras().stream()
                    .map(dev.sdcfg.model.library.ModelFolderScan.Entry::name).toList());
            return new ModelSwitcher(name -> folder, SINGLE_MODEL, this::loraPath, ctx, options, catalog.resident(),
                    swapTimer()::record);
        }
        swapTimer(); // a documented metric: registered even when nothing can swap (its count stays 0)
        return CheckpointLoader.load(folder, ctx, options);
    }

    /** The name of the one model when there is no models folder. */
    static final String SINGLE_MODEL = "default";

    private Path loraPath(String name) {
        return catalog.loraPath(name).orElseThrow(() -> new dev.sdcfg.model.ModelLoadException("LoRA '" + name
                + "' is not in the LoRA folder " + catalog.lorasDir().orElse(null)));
    }

    /** sd.models.dir: the default model loaded now, the others on demand (sd.model.path is not used). */
    private ImageGenerator createSwitcher() {
        ComputeContext ctx = ComputeContext.resolve(config.device(), config.dtype());
        PipelineOptions options = options();
        String first = catalog.defaultModel();
        if (configuredFolder().isPresent()) {
            LOG.warnf("sd.models.dir is set: sd.model.path (%s) is not used; the default model is %s",
                    configuredFolder().get(), first);
        }
        LOG.infof("Models folder %s: %s; loading the default %s on %s (%s)", catalog.library().orElseThrow().dir(),
                ModelCatalog.names(catalog.library().orElseThrow().list()), first, ctx, options);
        var library = catalog.library().orElseThrow();
        return new ModelSwitcher(name -> library.find(name).orElseThrow(() -> new dev.sdcfg.model.ModelLoadException(
                "model '" + name + "' is not in the models folder " + library.dir())).path(), first,
                this::loraPath, ctx, options, catalog.resident(), swapTimer()::record);
    }

    /** sd.model.swap: closing the resident model and loading the next (another model or another LoRA set). */
    private SwapTimer swapTimer() {
        return new SwapTimer(io.micrometer.core.instrument.Timer.builder(MetricNames.MODEL_SWAP)
                .description("Closing the resident model and loading the one a job names (model or LoRA set)")
                .publishPercentileHistogram().register(registry));
    }

    private record SwapTimer(io.micrometer.core.instrument.Timer timer) {
        void record(long nanos) {
            timer.record(nanos, java.util.concurrent.TimeUnit.NANOSECONDS);
        }
    }

    private PipelineOptions options() {
        return new PipelineOptions(config.model().variant().filter(s -> !s.isBlank()).orElse(null),
                config.attention().sliceSize(), config.clipSkip(), config.limits().maxPixels(),
                config.memory().budget(), config.limits().maxPromptChunks());
    }

    private Optional<String> configuredFolder() {
        return config.model().path().map(String::trim).filter(s -> !s.isEmpty());
    }
}
