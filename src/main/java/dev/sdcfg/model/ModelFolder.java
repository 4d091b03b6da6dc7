package dev.sdcfg.model;

import dev.sdcfg.model.config.JsonConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A diffusers pipeline folder as it comes from the hub: {@code model_index.json} plus one sub-folder per
 * component ({@code text_encoder/}, {@code tokenizer/}, {@code unet/}, {@code vae/}, {@code scheduler/}).
 */
public final class ModelFolder {

    public static final String TEXT_ENCODER = "text_encoder";
    public static final String TOKENIZER = "tokenizer";
    public static final String UNET = "unet";
    public static final String VAE = "vae";
    public static final String SCHEDULER = "scheduler";

    private final Path root;
    private final JsonConfig index;

    private ModelFolder(Path root, JsonConfig index) {
        this.root = root;
        this.index = index;
    }

    public static ModelFolder open(Path root) {
        if (!Files.isDirectory(root)) {
            throw new ModelLoadException("model folder " + root + " does not exist or is not a folder");
        }
        JsonConfig index = JsonConfig.read(root.resolve("model_index.json"));
        ModelFolder f = new ModelFolder(root, index);
        for (String c : List.of(TEXT_ENCODER, TOKENIZER, UNET, VAE, SCHEDULER)) {
            f.component(c);
        }
        return f;
    }

    public Path root() {
        return root;
    }

    public JsonConfig index() {
        return index;
    }

    /** The declared class of a component ({@code ["diffusers", "UNet2DConditionModel"]} → the second entry). */
    public String className(String component) {
        List<String> decl = index.getStringList(component);
        return decl == null || decl.size() < 2 ? null : decl.get(1);
    }

    public Path component(String name) {
        Path p = root.resolve(name);
        if (!Files.isDirectory(p)) {
            throw new ModelLoadException("model folder " + root + " has no '" + name + "/' component");
        }
        return p;
    }

    /** {@code <component>/config.json}, or {@code scheduler/scheduler_config.json} for the scheduler. */
    public JsonConfig config(String component) {
        Path dir = component(component);
        if (SCHEDULER.equals(component)) {
            return JsonConfig.read(dir.resolve("scheduler_config.json"));
        }
        return JsonConfig.read(dir.resolve("config.json"));
    }

    /** The pipeline class name, e.g. StableDiffusionPipeline. */
    public String pipelineClass() {
        return index.getString("_class_name", null);
    }

    @Override
    public String toString() {
        return "ModelFolder[" + root + "]";
    }
}
