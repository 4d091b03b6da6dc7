package dev.sdcfg.pipeline;

import dev.sdcfg.model.EmbeddedDemoModel;
import dev.sdcfg.model.ModelFolder;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.clip.ClipTextModel;
import dev.sdcfg.model.clip.ClipTokenizer;
import dev.sdcfg.model.config.JsonConfig;
import dev.sdcfg.model.io.Weights;
import dev.sdcfg.model.ldm.SingleFileCheckpoint;
import dev.sdcfg.model.lora.LoraFile;
import dev.sdcfg.model.unet.UNet2DConditionModel;
import dev.sdcfg.model.unet.UNetConfig;
import dev.sdcfg.model.vae.AutoencoderKL;
import dev.sdcfg.model.vae.VaeConfig;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Loads whatever a model path names: a diffusers folder ({@link StableDiffusionPipeline#load}) or a single-file
 * {@code .safetensors} checkpoint ({@link SingleFileCheckpoint}, converted key by key while loading: nothing is
 * written to disk), optionally with LoRAs merged in. Pickle files are refused with how to convert them.
 *
 * <p>LoRAs are merged while the UNet and text encoders load: each patched tensor is read from the (read-only,
 * memory-mapped) checkpoint, widened to float32 (float64 for a float64 model), updated and converted to the compute
 * dtype ({@link Weights.Patch}). The checkpoint file is the pristine source, so any sequence of LoRA sets leaves
 * nothing behind: a model built without LoRAs is bit for bit a fresh load.
 */
public final class CheckpointLoader {

    private CheckpointLoader() {
    }

    public static StableDiffusionPipeline load(Path path, ComputeContext ctx, PipelineOptions options) {
        return load(path, ctx, options, List.of(), name -> {
            throw new IllegalStateException("no LoRA folder");
        });
    }

    /**
     * Loads {@code path} with {@code loras} (resolved to files by {@code loraPath}) merged into its UNet and text
     * encoders (SDXL: both).
     */
    public static StableDiffusionPipeline load(Path path, ComputeContext ctx, PipelineOptions options,
                                               List<LoraWeight> loras, Function<String, Path> loraPath) {
        if (Files.isDirectory(path)) {
            return loras.isEmpty() ? StableDiffusionPipeline.load(path, ctx, options)
                    : build(folderParts(path, options.variant()), ctx, options, loras, loraPath);
        }
        if (!Files.isRegularFile(path)) {
            throw new ModelLoadException("model " + path + " does not exist");
        }
        SingleFileCheckpoint.refusePickle(path);
        try (SingleFileCheckpoint ckpt = SingleFileCheckpoint.open(path)) {
            return build(singleFileParts(ckpt), ctx, options, loras, loraPath);
        }
    }

    /** What a pipeline is built from, whatever the layout; {@code xl} is SDXL's second encoder (else null). */
    private record Parts(String id, Path root, Path tokenizerDir, String padToken, JsonConfig scheduler,
                         Integer clipSkip,
                         JsonConfig text, Supplier<Weights> textWeights, JsonConfig unet,
                         Supplier<Weights> unetWeights, JsonConfig vae, Supplier<Weights> vaeWeights, Xl xl) {
    }

    /** SDXL: tokenizer_2 and text_encoder_2 (CLIPTextModelWithProjection), and force_zeros_for_empty_prompt. */
    private record Xl(Path tokenizerDir, String padToken, JsonConfig text, Supplier<Weights> textWeights,
                      boolean forceZerosForEmptyPrompt) {
    }

    private static Parts folderParts(Path dir, String variant) {
        ModelFolder f = ModelFolder.open(dir);
        Path te = f.component(ModelFolder.TEXT_ENCODER);
        Path un = f.component(ModelFolder.UNET);
        Path va = f.component(ModelFolder.VAE);
        Path name = dir.toAbsolutePath().normalize().getFileName();
        Xl xl = null;
        if (f.isXl()) {
            Path te2 = f.component(ModelFolder.TEXT_ENCODER_2);
            xl = new Xl(f.component(ModelFolder.TOKENIZER_2), null, f.config(ModelFolder.TEXT_ENCODER_2),
                    () -> Weights.openComponent(te2, variant), f.forceZerosForEmptyPrompt());
        }
        return new Parts(name == null ? dir.toString() : name.toString(), dir, f.component(ModelFolder.TOKENIZER),
                null, f.config(ModelFolder.SCHEDULER), null,
                f.config(ModelFolder.TEXT_ENCODER), () -> Weights.openComponent(te, variant),
                f.config(ModelFolder.UNET), () -> Weights.openComponent(un, variant),
                f.config(ModelFolder.VAE), () -> Weights.openComponent(va, variant), xl);
    }

    /**
     * The bundled CLIP vocabulary (the demo model's tokenizer) for checkpoints that carry none, with SD 2.x's pad
     * token for OpenCLIP files.
     */
    private static Parts singleFileParts(SingleFileCheckpoint ckpt) {
        String name = ckpt.path().getFileName().toString();
        String id = name.endsWith(".safetensors") ? name.substring(0, name.length() - ".safetensors".length()) : name;
        Path bundled = EmbeddedDemoModel.folder().resolve("tokenizer");
        Path tok = ckpt.tokenizerDir("tokenizer");
        Xl xl = null;
        if (ckpt.textEncoder2Config() != null) {
            Path tok2 = ckpt.tokenizerDir("tokenizer_2");
            xl = new Xl(tok2 == null ? bundled : tok2, ckpt.pad2Token(), ckpt.textEncoder2Config(),
                    ckpt::textEncoder2Weights, ckpt.forceZerosForEmptyPrompt());
        }
        return new Parts(id, ckpt.path(), tok == null ? bundled : tok, ckpt.padToken(),
                ckpt.schedulerConfig(),
                ckpt.sidecar().clipSkip(), ckpt.textEncoderConfig(), ckpt::textEncoderWeights, ckpt.unetConfig(),
                ckpt::unetWeights, ckpt.vaeConfig(), ckpt::vaeWeights, xl);
    }

    private static StableDiffusionPipeline build(Parts p, ComputeContext ctx, PipelineOptions options,
                                                 List<LoraWeight> loras, Function<String, Path> loraPath) {
        DjlRuntime.engine();
        PipelineOptions opts = p.clipSkip() == null ? options : new PipelineOptions(options.variant(),
                options.attentionSliceSize(), p.clipSkip(), options.maxPixels(), options.memoryBudget());
        UNetConfig unetConfig = UNetConfig.from(p.unet()); // configs fail before any weight is read
        VaeConfig vaeConfig = VaeConfig.from(p.vae());
        ClipTokenizer tok = null;
        ClipTextModel te = null;
        UNet2DConditionModel un = null;
        AutoencoderKL va = null;
        ClipTokenizer tok2 = null;
        ClipTextModel te2 = null;
        List<LoraFile> files = new ArrayList<>();
        try (Weights tw = p.textWeights().get(); Weights uw = p.unetWeights().get();
             Weights t2w = p.xl() == null ? null : p.xl().textWeights().get()) {
            Map<String, List<Weights.Patch>> tePatches = new LinkedHashMap<>();
            Map<String, List<Weights.Patch>> te2Patches = new LinkedHashMap<>();
            Map<String, List<Weights.Patch>> unetPatches = new LinkedHashMap<>();
            if (!loras.isEmpty()) {
                Map<String, Map<String, long[]>> shapes = new LinkedHashMap<>();
                shapes.put(LoraFile.UNET, shapesOf(uw));
                shapes.put(LoraFile.TEXT_ENCODER, shapesOf(tw));
                if (t2w != null) {
                    shapes.put(LoraFile.TEXT_ENCODER_2, shapesOf(t2w));
                }
                for (LoraWeight l : loras) {
                    LoraFile f = LoraFile.open(loraPath.apply(l.name()), shapes);
                    files.add(f);
                    f.addPatches(LoraFile.TEXT_ENCODER, l.weight(), tePatches);
                    f.addPatches(LoraFile.TEXT_ENCODER_2, l.weight(), te2Patches);
                    f.addPatches(LoraFile.UNET, l.weight(), unetPatches);
                }
            }
            tok = ClipTokenizer.load(p.tokenizerDir(), 0, p.padToken());
            Weights tView = tePatches.isEmpty() ? tw : tw.withPatches(LoraFile.combine(tePatches));
            te = new ClipTextModel(p.text(), tView, ctx);
            requireApplied(tView, p.id() + " text encoder");
            Weights uView = unetPatches.isEmpty() ? uw : uw.withPatches(LoraFile.combine(unetPatches));
            un = new UNet2DConditionModel(unetConfig, uView, ctx, opts.attentionSliceSize());
            requireApplied(uView, p.id() + " UNet");
            try (Weights vw = p.vaeWeights().get()) {
                va = AutoencoderKL.create(vaeConfig, vw, AutoencoderKL.contextFor(vaeConfig, ctx));
            }
            if (p.xl() == null) {
                return StableDiffusionPipeline.fromComponents(p.id(), p.root(), tok, p.scheduler(), te, un, va, ctx,
                        opts);
            }
            tok2 = ClipTokenizer.load(p.xl().tokenizerDir(), 0, p.xl().padToken());
            Weights t2View = te2Patches.isEmpty() ? t2w : t2w.withPatches(LoraFile.combine(te2Patches));
            te2 = new ClipTextModel(p.xl().text(), t2View, ctx, true);
            requireApplied(t2View, p.id() + " text_encoder_2");
            return StableDiffusionPipeline.fromComponentsXl(p.id(), p.root(), tok, p.scheduler(), te, un, va, ctx,
                    opts, tok2, te2, p.xl().forceZerosForEmptyPrompt());
        } catch (RuntimeException e) {
            for (AutoCloseable c : new AutoCloseable[] {tok, te, un, va, tok2, te2}) {
                if (c != null) {
                    try {
                        c.close();
                    } catch (Exception ignored) {
                        // closing after a failed load
                    }
                }
            }
            throw e;
        } finally {
            files.forEach(LoraFile::close);
        }
    }

    private static Map<String, long[]> shapesOf(Weights w) {
        Map<String, long[]> out = new LinkedHashMap<>();
        for (String k : w.keys()) {
            out.put(k, w.shapeOf(k));
        }
        return out;
    }

    /** A LoRA update of a tensor the model never read would silently do nothing: refuse it. */
    private static void requireApplied(Weights w, String what) {
        if (!w.unappliedPatches().isEmpty()) {
            throw new ModelLoadException("LoRA updates of " + what + " tensors the model does not use: "
                    + w.unappliedPatches());
        }
    }
}
