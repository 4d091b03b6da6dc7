package dev.sdcfg.jobs;

import dev.sdcfg.model.EmbeddedDemoModel;
import dev.sdcfg.pipeline.ImageGenerator;
import dev.sdcfg.pipeline.PipelineOptions;
import dev.sdcfg.pipeline.StableDiffusionPipeline;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.CpuKernels;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;
import org.jboss.logging.Logger;

import java.nio.file.Path;
import java.util.Optional;

/**
 * The real engine: {@link StableDiffusionPipeline#load} on the folder named by {@code sd.model.path}
 * ({@code SD_MODEL_PATH}), or on the extracted {@link EmbeddedDemoModel} when none is configured. {@code sd.device},
 * {@code sd.dtype} → {@link ComputeContext#resolve}; {@code sd.model.variant}, {@code sd.attention.slice-size},
 * {@code sd.clip-skip}, {@code sd.limits.max-pixels} → {@link PipelineOptions}.
 */
@ApplicationScoped
public class PipelineGeneratorProvider implements GeneratorProvider {

    public static final String NAME = "pipeline";
    private static final Logger LOG = Logger.getLogger(PipelineGeneratorProvider.class);

    @Inject
    ServiceConfig config;

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public String describe() {
        return configuredFolder().map(p -> "diffusers folder " + p)
                .orElse("embedded demo model (random weights: images are noise)");
    }

    @Override
    public ImageGenerator create() {
        Path folder = configuredFolder().map(Path::of).orElseGet(() -> {
            Path dir = EmbeddedDemoModel.extract();
            LOG.warnf("No model folder configured (sd.model.path / SD_MODEL_PATH): using the EMBEDDED DEMO MODEL, "
                    + "a tiny Stable Diffusion with RANDOM WEIGHTS. It exercises the API but every image is noise. "
                    + "Extracted to %s. Set SD_MODEL_PATH to a diffusers SD 1.x/2.x folder for real images.", dir);
            return dir;
        });
        ComputeContext ctx = ComputeContext.resolve(config.device(), config.dtype());
        PipelineOptions options = new PipelineOptions(config.model().variant().filter(s -> !s.isBlank()).orElse(null),
                config.attention().sliceSize(), config.clipSkip(), config.limits().maxPixels(),
                config.memory().budget(), config.limits().maxPromptChunks());
        LOG.infof("Loading %s on %s (%s)", folder, ctx, options);
        CpuKernels.State kernels = CpuKernels.state();
        LOG.infof("CPU kernels: oneDNN ISA cap %s, %s; CPU %s; convolution self-check %s", kernels.onednnMaxCpuIsa(),
                kernels.onednnMaxCpuIsaSource(), kernels.cpuVectorIsa(), kernels.selfCheck());
        return StableDiffusionPipeline.load(folder, ctx, options);
    }

    private Optional<String> configuredFolder() {
        return config.model().path().map(String::trim).filter(s -> !s.isEmpty());
    }
}
