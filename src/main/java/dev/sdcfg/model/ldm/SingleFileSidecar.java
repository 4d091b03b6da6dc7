package dev.sdcfg.model.ldm;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.model.ModelLoadException;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What a single-file checkpoint's weights cannot tell, from {@code NAME.json} or {@code NAME.yaml} next to
 * {@code NAME.safetensors}. Two forms:
 * <ul>
 * <li>this service's own: {@code prediction_type} ({@code epsilon}, {@code v_prediction}, {@code sample}),
 * {@code clip_skip} (≥ 0, diffusers' meaning), {@code tokenizer} / {@code tokenizer_2} (a tokenizer folder, relative to
 * the sidecar, used instead of the bundled CLIP vocabulary), and objects {@code unet}, {@code vae},
 * {@code text_encoder}, {@code text_encoder_2}, {@code scheduler} whose entries replace the inferred diffusers config
 * entries (e.g.
 * {@code {"unet": {"norm_num_groups": 8, "sample_size": 96, "upcast_attention": true}}}). Any other key fails.</li>
 * <li>the original LDM config A1111 keeps next to a checkpoint (a YAML with a top-level {@code model}): its
 * {@code model.params.parameterization: "v"} means v_prediction ({@code "eps"} or absent, LatentDiffusion's default:
 * epsilon) and {@code model.params.scale_factor} is the VAE
 * scaling factor; the rest of it is not read.</li>
 * </ul>
 * YAML is read with SnakeYAML's safe constructor (plain maps, lists and scalars only).
 */
public final class SingleFileSidecar {

    static final Set<String> KEYS = Set.of("prediction_type", "clip_skip", "unet", "vae", "text_encoder",
            "text_encoder_2", "scheduler", "tokenizer", "tokenizer_2");
    static final Set<String> PREDICTION_TYPES = Set.of("epsilon", "v_prediction", "sample");

    private final Path path;
    private final JsonObject overrides;
    private final Integer clipSkip;
    /** Tokenizer folders replacing the bundled vocabulary ("tokenizer", "tokenizer_2"). */
    private final Map<String, Path> tokenizers;
    private final List<String> said = new ArrayList<>();

    private SingleFileSidecar(Path path, JsonObject overrides, Integer clipSkip, Map<String, Path> tokenizers) {
        this.path = path;
        this.overrides = overrides;
        this.clipSkip = clipSkip;
        this.tokenizers = tokenizers;
    }

    static SingleFileSidecar none() {
        return new SingleFileSidecar(null, new JsonObject(), null, Map.of());
    }

    /** The sidecar of {@code checkpoint} ({@code .json}, then {@code .yaml}, then {@code .yml}), or none. */
    public static SingleFileSidecar find(Path checkpoint) {
        String n = checkpoint.getFileName().toString();
        int dot = n.lastIndexOf('.');
        String stem = dot < 0 ? n : n.substring(0, dot);
        for (String ext : List.of(".json", ".yaml", ".yml")) {
            Path p = checkpoint.resolveSibling(stem + ext);
            if (Files.isRegularFile(p)) {
                return read(p);
            }
        }
        return none();
    }

    static SingleFileSidecar read(Path p) {
        JsonElement root;
        try {
            String text = Files.readString(p, StandardCharsets.UTF_8);
            if (p.getFileName().toString().endsWith(".json")) {
                root = JsonParser.parseString(text);
            } else {
                Object y = new Yaml(new SafeConstructor(new LoaderOptions())).load(text);
                root = new Gson().toJsonTree(y);
            }
        } catch (IOException | RuntimeException e) {
            throw new ModelLoadException(p + ": cannot read the sidecar: " + e.getMessage(), e);
        }
        if (root == null || !root.isJsonObject()) {
            throw new ModelLoadException(p + ": the sidecar must be a mapping of keys to values");
        }
        JsonObject o = root.getAsJsonObject();
        if (o.has("model") && o.get("model").isJsonObject()) {
            return fromLdmConfig(p, o.getAsJsonObject("model"));
        }
        JsonObject overrides = new JsonObject();
        Integer clipSkip = null;
        Map<String, Path> tokenizers = new java.util.TreeMap<>();
        for (Map.Entry<String, JsonElement> e : o.entrySet()) {
            String k = e.getKey();
            JsonElement v = e.getValue();
            if (!KEYS.contains(k)) {
                throw new ModelLoadException(p + ": unknown key '" + k + "' (known: " + String.join(", ",
                        new java.util.TreeSet<>(KEYS)) + ")");
            }
            if ("prediction_type".equals(k)) {
                String t = v.isJsonPrimitive() ? v.getAsString() : "";
                if (!PREDICTION_TYPES.contains(t)) {
                    throw new ModelLoadException(p + ": 'prediction_type' must be one of epsilon, v_prediction,"
                            + " sample; got " + v);
                }
                section(overrides, "scheduler").addProperty("prediction_type", t);
            } else if ("clip_skip".equals(k)) {
                if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isNumber() || v.getAsDouble() < 0
                        || v.getAsDouble() != Math.floor(v.getAsDouble())) {
                    throw new ModelLoadException(p + ": 'clip_skip' must be an integer >= 0; got " + v);
                }
                clipSkip = v.getAsInt();
            } else if (k.startsWith("tokenizer")) {
                // a folder with the model's own vocabulary (vocab.json + merges.txt or tokenizer.json), relative to
                // the sidecar; for checkpoints whose embeddings do not fit the bundled CLIP vocabulary
                Path dir = v.isJsonPrimitive() && v.getAsJsonPrimitive().isString()
                        ? p.toAbsolutePath().getParent().resolve(v.getAsString()).normalize() : null;
                if (dir == null || !Files.isDirectory(dir)) {
                    throw new ModelLoadException(p + ": '" + k + "' must name a tokenizer folder (relative to the"
                            + " sidecar); got " + v);
                }
                tokenizers.put(k, dir);
            } else {
                if (!v.isJsonObject()) {
                    throw new ModelLoadException(p + ": '" + k + "' must be a mapping of config keys to values");
                }
                for (Map.Entry<String, JsonElement> c : v.getAsJsonObject().entrySet()) {
                    section(overrides, k).add(c.getKey(), c.getValue());
                }
            }
        }
        return new SingleFileSidecar(p, overrides, clipSkip, Map.copyOf(tokenizers));
    }

    /** The two facts an LDM inference YAML states that weights do not. */
    private static SingleFileSidecar fromLdmConfig(Path p, JsonObject model) {
        JsonObject overrides = new JsonObject();
        JsonObject params = model.has("params") && model.get("params").isJsonObject()
                ? model.getAsJsonObject("params") : new JsonObject();
        JsonElement param = params.get("parameterization");
        // absent: LatentDiffusion's default "eps" (v2-inference.yaml of the SD 2.x base models says nothing)
        if (param == null || param.isJsonPrimitive()) {
            String t = param == null ? "eps" : param.getAsString();
            if (!"v".equals(t) && !"eps".equals(t)) {
                throw new ModelLoadException(p + ": model.params.parameterization '" + t + "' is not eps or v");
            }
            section(overrides, "scheduler").addProperty("prediction_type", "v".equals(t) ? "v_prediction" : "epsilon");
        }
        JsonElement scale = params.get("scale_factor");
        if (scale != null && scale.isJsonPrimitive() && scale.getAsJsonPrimitive().isNumber()) {
            section(overrides, "vae").addProperty("scaling_factor", scale.getAsDouble());
        }
        return new SingleFileSidecar(p, overrides, null, Map.of());
    }

    private static JsonObject section(JsonObject o, String name) {
        if (!o.has(name)) {
            o.add(name, new JsonObject());
        }
        return o.getAsJsonObject(name);
    }

    /** {@code inferred} with this sidecar's entries for {@code section} replacing (or adding to) it. */
    JsonObject apply(String section, JsonObject inferred) {
        JsonObject out = inferred.deepCopy();
        if (overrides.has(section)) {
            for (Map.Entry<String, JsonElement> e : overrides.getAsJsonObject(section).entrySet()) {
                out.add(e.getKey(), e.getValue());
                said.add(section + " " + e.getKey() + " " + e.getValue());
            }
        }
        return out;
    }

    /** The prediction type this sidecar states (own form or LDM YAML), or null when it does not say. */
    String predictionType() {
        JsonObject sched = overrides.getAsJsonObject("scheduler");
        JsonElement t = sched == null ? null : sched.get("prediction_type");
        return t == null || !t.isJsonPrimitive() ? null : t.getAsString();
    }

    /** The sidecar file, or null when there is none. */
    public Path path() {
        return path;
    }

    /** The tokenizer folder named by {@code key} ("tokenizer" or "tokenizer_2"), or null for the bundled one. */
    public Path tokenizer(String key) {
        return tokenizers.get(key);
    }

    /** The sidecar's clip_skip, or null when it does not say. */
    public Integer clipSkip() {
        return clipSkip;
    }

    /** For the load log line. */
    String describe() {
        if (path == null) {
            return "no sidecar (NAME.json / NAME.yaml) found";
        }
        List<String> all = new ArrayList<>(said);
        if (clipSkip != null) {
            all.add("clip_skip " + clipSkip);
        }
        tokenizers.forEach((k, v) -> all.add(k + " " + v));
        return "sidecar " + path.getFileName() + " sets " + (all.isEmpty() ? "nothing" : String.join(", ", all));
    }
}
