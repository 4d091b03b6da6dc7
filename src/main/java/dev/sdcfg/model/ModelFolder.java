package dev.sdcfg.model;

import com.google.gson.JsonElement;
import dev.sdcfg.model.config.JsonConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

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
    /** SDXL's second text encoder (CLIPTextModelWithProjection) and its tokenizer. */
    public static final String TEXT_ENCODER_2 = "text_encoder_2";
    public static final String TOKENIZER_2 = "tokenizer_2";
    /** diffusers' StableDiffusionXLPipeline (SDXL base 1.0 layout). */
    public static final String SDXL_PIPELINE = "StableDiffusionXLPipeline";

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
        checkIndex(index);
        ModelFolder f = new ModelFolder(root, index);
        for (String c : List.of(TEXT_ENCODER, TOKENIZER, UNET, VAE, SCHEDULER)) {
            f.component(c);
        }
        if (f.isXl()) {
            f.component(TEXT_ENCODER_2);
            f.component(TOKENIZER_2);
        }
        return f;
    }

    /** The pipeline classes whose text-to-image computation this runtime implements. */
    static final Set<String> PIPELINE_CLASSES = Set.of("StableDiffusionPipeline", SDXL_PIPELINE);

    /** Classes diffusers would load for each required component, for a StableDiffusionPipeline to work as here. */
    static final Map<String, Set<String>> COMPONENT_CLASSES = Map.of(
            TEXT_ENCODER, Set.of("CLIPTextModel"),
            TOKENIZER, Set.of("CLIPTokenizer", "CLIPTokenizerFast"),
            UNET, Set.of("UNet2DConditionModel"),
            VAE, Set.of("AutoencoderKL"),
            TEXT_ENCODER_2, Set.of("CLIPTextModelWithProjection"),
            TOKENIZER_2, Set.of("CLIPTokenizer", "CLIPTokenizerFast"));

    /**
     * StableDiffusionXLPipeline's config options (register_to_config): force_zeros_for_empty_prompt is read
     * ({@link #forceZerosForEmptyPrompt}); add_watermarker only switches diffusers' invisible watermark, which is not
     * applied here.
     */
    static final Set<String> SDXL_OPTIONS = Set.of("force_zeros_for_empty_prompt", "add_watermarker");

    /**
     * StableDiffusionPipeline's optional components. None of them takes part in text-to-image denoising here:
     * image_encoder only serves IP-Adapter inputs; a declared safety_checker (with its feature_extractor) would
     * post-filter images in diffusers but is not run by this runtime (logged at load).
     */
    static final Set<String> OPTIONAL_COMPONENTS = Set.of("safety_checker", "feature_extractor", "image_encoder");

    /**
     * model_index.json: the pipeline class (other pipelines, e.g. StableDiffusionXLPipeline, compute something
     * else) and the declared classes of the required components. Keys StableDiffusionPipeline does not take are
     * ignored with a warning, as diffusers does. Failures name model_index.json and the key.
     */
    static void checkIndex(JsonConfig index) {
        String src = index.source();
        String cls = index.getString("_class_name", null);
        if ("StableDiffusionXLImg2ImgPipeline".equals(cls)) {
            // the SDXL refiner: image-to-image only, with aesthetic-score time ids and no text_encoder
            throw new ModelLoadException(src + ": unsupported value '" + cls + "' for '_class_name': the SDXL refiner"
                    + " (image-to-image, aesthetic-score conditioning) is not supported; load an SDXL base folder"
                    + " (StableDiffusionXLPipeline)");
        }
        if (cls != null && !PIPELINE_CLASSES.contains(cls)) {
            throw new ModelLoadException(src + ": unsupported value '" + cls + "' for '_class_name' (supported: "
                    + String.join(", ", PIPELINE_CLASSES) + ")");
        }
        for (Map.Entry<String, JsonElement> e : index.json().entrySet()) {
            String key = e.getKey();
            if (key.startsWith("_") || "requires_safety_checker".equals(key)
                    || (SDXL_PIPELINE.equals(cls) && SDXL_OPTIONS.contains(key))) {
                continue; // requires_safety_checker only decides whether diffusers logs a warning
            }
            List<String> decl = declaration(index, key, e.getValue());
            boolean declared = decl != null && decl.stream().anyMatch(x -> x != null);
            Set<String> allowed = COMPONENT_CLASSES.get(key);
            if (allowed != null && (TEXT_ENCODER_2.equals(key) || TOKENIZER_2.equals(key)) && !SDXL_PIPELINE.equals(cls)) {
                System.getLogger(ModelFolder.class.getName()).log(System.Logger.Level.WARNING,
                        "{0}: ''{1}'' is not a StableDiffusionPipeline component and is ignored", src, key);
            } else if (allowed != null) {
                if (SDXL_PIPELINE.equals(cls) && !declared) {
                    throw new ModelLoadException(src + ": component '" + key + "' is null; StableDiffusionXLPipeline"
                            + " text-to-image needs it here (a refiner-style folder without '" + key
                            + "' is not supported)");
                }
                String c = decl == null || decl.size() < 2 ? null : decl.get(1);
                if (c != null && !allowed.contains(c)) {
                    throw new ModelLoadException(src + ": unsupported class '" + c + "' for component '" + key
                            + "' (supported: " + String.join(", ", new java.util.TreeSet<>(allowed)) + ")");
                }
            } else if (SCHEDULER.equals(key)) {
                continue; // the sampler factory checks the scheduler class against scheduler_config.json
            } else if (OPTIONAL_COMPONENTS.contains(key)) {
                if (declared && "safety_checker".equals(key)) {
                    System.getLogger(ModelFolder.class.getName()).log(System.Logger.Level.WARNING,
                            "{0}: declares a safety_checker {1}; it is not run (images are not filtered)", src, decl);
                }
            } else {
                // diffusers ignores what StableDiffusionPipeline.__init__ does not take, with a warning; so here
                System.getLogger(ModelFolder.class.getName()).log(System.Logger.Level.WARNING,
                        "{0}: ''{1}'' is not a StableDiffusionPipeline component or option and is ignored", src, key);
            }
        }
    }

    /** A component entry ["library", "Class"] (entries may be null), or null when the value is not one. */
    private static List<String> declaration(JsonConfig index, String key, JsonElement v) {
        if (v == null || !v.isJsonArray()) {
            return null;
        }
        List<String> out = new java.util.ArrayList<>();
        for (JsonElement x : v.getAsJsonArray()) {
            if (x.isJsonNull()) {
                out.add(null);
            } else if (x.isJsonPrimitive() && x.getAsJsonPrimitive().isString()) {
                out.add(x.getAsString());
            } else {
                return null;
            }
        }
        return out;
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

    /** Whether this is an SDXL folder (StableDiffusionXLPipeline: two text encoders, text_time conditioning). */
    public boolean isXl() {
        return SDXL_PIPELINE.equals(pipelineClass());
    }

    /**
     * StableDiffusionXLPipeline's {@code force_zeros_for_empty_prompt} (model_index.json; default true): without a
     * negative prompt the unconditional embeddings are zeros rather than the empty prompt's.
     */
    public boolean forceZerosForEmptyPrompt() {
        return index.getPyBool("force_zeros_for_empty_prompt", true);
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
