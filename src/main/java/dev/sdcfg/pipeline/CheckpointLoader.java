package dev.sdcfg.pipeline;

import dev.sdcfg.model.EmbeddedDemoModel;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.clip.ClipTextModel;
import dev.sdcfg.model.clip.ClipTokenizer;
import dev.sdcfg.model.io.Weights;
import dev.sdcfg.model.ldm.SingleFileCheckpoint;
import dev.sdcfg.model.unet.UNet2DConditionModel;
import dev.sdcfg.model.unet.UNetConfig;
import dev.sdcfg.model.vae.AutoencoderKL;
import dev.sdcfg.model.vae.VaeConfig;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Loads whatever a model path names: a diffusers folder ({@link StableDiffusionPipeline#load}) or a single-file
 * {@code .safetensors} checkpoint ({@link SingleFileCheckpoint}, converted key by key while loading: nothing is
 * written to disk). Pickle files are refused with how to convert them.
 */
public final class CheckpointLoader {

    private CheckpointLoader() {
    }

    public static StableDiffusionPipeline load(Path path, ComputeContext ctx, PipelineOptions options) {
        if (Files.isDirectory(path)) {
            return StableDiffusionPipeline.load(path, ctx, options);
        }
        if (!Files.isRegularFile(path)) {
            throw new ModelLoadException("model " + path + " does not exist");
        }
        return loadSingleFile(path, ctx, options);
    }

    /**
     * A single-file checkpoint: configs inferred (and the sidecar applied), each component built from its renamed
     * view of the file, the bundled CLIP tokenizer. The sidecar's clip_skip replaces the configured one.
     */
    public static StableDiffusionPipeline loadSingleFile(Path file, ComputeContext ctx, PipelineOptions options) {
        DjlRuntime.engine();
        ClipTokenizer tok = null;
        ClipTextModel te = null;
        UNet2DConditionModel un = null;
        AutoencoderKL va = null;
        try (SingleFileCheckpoint ckpt = SingleFileCheckpoint.open(file)) {
            PipelineOptions opts = options;
            if (ckpt.sidecar().clipSkip() != null) {
                opts = new PipelineOptions(options.variant(), options.attentionSliceSize(), ckpt.sidecar().clipSkip(),
                        options.maxPixels(), options.memoryBudget());
            }
            UNetConfig unetConfig = UNetConfig.from(ckpt.unetConfig());
            VaeConfig vaeConfig = VaeConfig.from(ckpt.vaeConfig());
            tok = ClipTokenizer.load(EmbeddedDemoModel.folder().resolve("tokenizer"), 0);
            try (Weights w = ckpt.textEncoderWeights()) {
                te = new ClipTextModel(ckpt.textEncoderConfig(), w, ctx);
            }
            try (Weights w = ckpt.unetWeights()) {
                un = new UNet2DConditionModel(unetConfig, w, ctx, opts.attentionSliceSize());
            }
            try (Weights w = ckpt.vaeWeights()) {
                va = AutoencoderKL.create(vaeConfig, w, AutoencoderKL.contextFor(vaeConfig, ctx));
            }
            String name = file.getFileName().toString();
            String id = name.endsWith(".safetensors") ? name.substring(0, name.length() - ".safetensors".length()) : name;
            return StableDiffusionPipeline.fromComponents(id, file, tok, ckpt.schedulerConfig(), te, un, va, ctx, opts);
        } catch (RuntimeException e) {
            for (AutoCloseable c : new AutoCloseable[] {tok, te, un, va}) {
                if (c != null) {
                    try {
                        c.close();
                    } catch (Exception ignored) {
                        // closing after a failed load
                    }
                }
            }
            throw e;
        }
    }
}
