package dev.sdcfg.model.ldm;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.config.JsonConfig;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.model.io.Weights;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A single-file Stable Diffusion checkpoint in the original LDM layout ({@code model.diffusion_model.*},
 * {@code first_stage_model.*}, and {@code cond_stage_model.transformer.*} for SD 1.x, OpenCLIP's
 * {@code cond_stage_model.model.*} for SD 2.x, {@code conditioner.embedders.0.transformer.*} and
 * {@code conditioner.embedders.1.model.*} for SDXL), as A1111 and Civitai distribute them.
 *
 * <p>Everything is decided offline: diffusers' {@code from_single_file} fetches configs from the hub, which an
 * offline server cannot. The architecture comes from tensor names and shapes (levels, channels, layers per block,
 * context width, in_channels, linear or conv projections, text-encoder width and depth); what the weights cannot
 * tell takes the SD 1.x values diffusers' {@code v1-inference.yaml} gives (GroupNorm groups 32, 8 attention heads,
 * 64-latent sample size, VAE scaling factor 0.18215, PNDM with the SD scaled-linear betas, epsilon prediction) unless
 * a sidecar {@code NAME.json}/{@code NAME.yaml} says otherwise ({@link SingleFileSidecar}); for SD 2.x and SDXL, the
 * values of diffusers' configs for those families ({@link FamilyDefaults}; SD 2.x's prediction type by diffusers' rule,
 * {@link #sd2PredictionType}). One log line lists what was inferred and what was assumed. The tokenizer is the CLIP
 * vocabulary bundled with the service (with "!" as pad token for OpenCLIP's: SD 2.x's, SDXL's tokenizer_2), or the
 * sidecar's tokenizer folders.
 *
 * <p>Only {@code .safetensors}: pickle checkpoints ({@code .ckpt .pt .pth .bin}) can execute code when loaded and are
 * refused with the one-line command that converts them.
 */
public final class SingleFileCheckpoint implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(SingleFileCheckpoint.class.getName());

    /** What the file holds, from its keys. */
    public enum Family {
        SD1("SD 1.x"), SD2("SD 2.x"), SDXL("SDXL");

        public final String label;

        Family(String label) {
            this.label = label;
        }
    }

    public static final List<String> PICKLE_SUFFIXES = List.of(".ckpt", ".pt", ".pth", ".bin");

    private final Path path;
    private final Safetensors file;
    private final Family family;
    private final SingleFileSidecar sidecar;
    private final JsonConfig unetConfig;
    private final JsonConfig vaeConfig;
    private final JsonConfig textConfig;
    private final JsonConfig schedulerConfig;
    private final Map<String, String> unetKeys;
    private final Map<String, String> vaeKeys;
    private final Map<String, String> clipKeys;
    /** Text-encoder keys read as part of a stored tensor (SD 2.x's fused q/k/v). */
    private final Map<String, Safetensors.Cut> clipCuts;
    /** SDXL's second text encoder (OpenCLIP bigG): diffusers key → stored key, and the cut keys; else empty. */
    private final Map<String, String> clip2Keys;
    private final Map<String, Safetensors.Cut> clip2Cuts;
    /** SDXL's text_encoder_2 config, else null. */
    private final JsonConfig text2Config;
    /** The prediction type: the sidecar's, else SD 2.x's rule ({@link #sd2PredictionType}), else epsilon. */
    private final String predictionType;

    private SingleFileCheckpoint(Path path, Safetensors file) {
        this.path = path;
        this.file = file;
        Set<String> keys = file.keys();
        this.family = familyOf(path, keys);
        this.sidecar = SingleFileSidecar.find(path);
        this.unetKeys = LdmKeys.unet(path, keys);
        this.vaeKeys = LdmKeys.vae(path, keys);
        List<String> assumed = new ArrayList<>();
        if (family == Family.SD2) {
            LdmKeys.TextKeys t = LdmKeys.openClip(path, keys, this::shape, LdmKeys.OPEN_CLIP_PREFIX, true, false);
            this.clipKeys = t.keys();
            this.clipCuts = t.cuts();
            this.predictionType = sidecar.predictionType() != null ? sidecar.predictionType()
                    : sd2PredictionType(assumed);
        } else {
            this.clipKeys = LdmKeys.clip(path, keys,
                    family == Family.SDXL ? LdmKeys.SDXL_CLIP_PREFIX : LdmKeys.CLIP_PREFIX);
            this.clipCuts = Map.of();
            this.predictionType = sidecar.predictionType() != null ? sidecar.predictionType() : "epsilon";
        }
        if (family == Family.SDXL) {
            // SDXL runs all of bigG's layers (its embedder takes hidden_states[-2] itself) and pools through
            // text_projection
            LdmKeys.TextKeys t = LdmKeys.openClip(path, keys, this::shape, LdmKeys.SDXL_OPEN_CLIP_PREFIX, false, true);
            this.clip2Keys = t.keys();
            this.clip2Cuts = t.cuts();
            this.text2Config = config("text_encoder_2", inferText(clip2Keys, clip2Cuts, "gelu", true, "text_encoder_2",
                    assumed), "text_encoder_2");
        } else {
            this.clip2Keys = Map.of();
            this.clip2Cuts = Map.of();
            this.text2Config = null;
        }
        this.unetConfig = config("unet", inferUnet(assumed), "unet");
        this.vaeConfig = config("vae", inferVae(assumed), "vae");
        this.textConfig = config("text_encoder", inferText(clipKeys, clipCuts,
                family == Family.SD2 ? "gelu" : "quick_gelu", false, "text_encoder", assumed), "text_encoder");
        this.schedulerConfig = config("scheduler", FamilyDefaults.scheduler(family, predictionType, assumed),
                "scheduler");
        LOG.log(System.Logger.Level.INFO, path.getFileName() + ": " + family.label + " single-file checkpoint;"
                + " inferred from the weights: " + inferredSummary() + "; "
                + (assumed.isEmpty() ? "nothing assumed" : "assumed (not in the weights): " + String.join(", ", assumed))
                + "; " + sidecar.describe() + " (the sidecar's values win)");
    }

    /**
     * Opens {@code path} (a {@code .safetensors} file). Pickle files and anything that is not a Stable Diffusion
     * checkpoint fail with a {@link ModelLoadException} naming the file.
     */
    public static SingleFileCheckpoint open(Path path) {
        refusePickle(path);
        if (!path.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".safetensors")) {
            throw new ModelLoadException(path + ": a single-file checkpoint must be a .safetensors file");
        }
        Safetensors f;
        try {
            f = Safetensors.open(path);
        } catch (IOException e) {
            throw new ModelLoadException("cannot read " + path + ": " + e.getMessage(), e);
        }
        try {
            return new SingleFileCheckpoint(path, f);
        } catch (RuntimeException e) {
            f.closeQuietly();
            throw e;
        }
    }

    /** Fails for a pickle checkpoint, saying how to convert it. Pickles are never opened. */
    public static void refusePickle(Path path) {
        String n = path.getFileName().toString();
        String lower = n.toLowerCase(Locale.ROOT);
        for (String s : PICKLE_SUFFIXES) {
            if (lower.endsWith(s)) {
                String stem = n.substring(0, n.length() - s.length());
                throw new ModelLoadException(path + " is a pickle checkpoint (" + s + "): pickles can execute code"
                        + " when loaded and are never opened here. Convert it once, on a machine you trust: python -c"
                        + " \"import torch, safetensors.torch as st; sd = torch.load('" + n + "', map_location='cpu',"
                        + " weights_only=True); sd = sd.get('state_dict', sd); st.save_file({k: v.contiguous() for"
                        + " k, v in sd.items() if isinstance(v, torch.Tensor)}, '" + stem + ".safetensors')\"");
            }
        }
    }

    /** The family from the keys, as diffusers' {@code infer_diffusers_model_type} tells them apart. */
    public static Family familyOf(Path path, Set<String> keys) {
        boolean unet = false;
        boolean clip = false;
        boolean openClip = false;
        boolean sdxl = false;
        for (String k : keys) {
            unet |= k.startsWith(LdmKeys.UNET_PREFIX);
            clip |= k.startsWith(LdmKeys.CLIP_PREFIX);
            openClip |= k.startsWith("cond_stage_model.model.");
            sdxl |= k.startsWith("conditioner.embedders.");
        }
        if (!unet) {
            throw new ModelLoadException(path + ": not a Stable Diffusion checkpoint (no " + LdmKeys.UNET_PREFIX
                    + "* tensors; LoRA files and embeddings belong in their own folders)");
        }
        if (sdxl) {
            return Family.SDXL;
        }
        if (openClip) {
            return Family.SD2;
        }
        if (!clip) {
            throw new ModelLoadException(path + ": no text encoder in the checkpoint (keys " + LdmKeys.CLIP_PREFIX
                    + "* or cond_stage_model.model.*)");
        }
        return Family.SD1;
    }

    private long[] shape(String stored) {
        return file.info(stored).shape();
    }

    private boolean hasStored(String stored) {
        return file.contains(stored);
    }

    private JsonObject inferUnet(List<String> assumed) {
        String u = LdmKeys.UNET_PREFIX;
        Set<String> keys = LdmKeys.unetKeys(file.keys());
        int levels = LdmKeys.unetLevels(keys);
        int layers = LdmKeys.layersPerBlock(path, keys);
        JsonObject c = new JsonObject();
        c.addProperty("_class_name", "UNet2DConditionModel");
        c.addProperty("in_channels", shape(u + "input_blocks.0.0.weight")[1]);
        c.addProperty("out_channels", shape(u + "out.2.weight")[0]);
        JsonArray channels = new JsonArray();
        JsonArray down = new JsonArray();
        JsonArray up = new JsonArray();
        boolean linear = false;
        int crossDim = -1;
        for (int i = 0; i < levels; i++) {
            int first = 1 + i * (layers + 1);
            channels.add(shape(u + "input_blocks." + first + ".0.in_layers.2.weight")[0]);
            String proj = u + "input_blocks." + first + ".1.proj_in.weight";
            down.add(hasStored(proj) ? "CrossAttnDownBlock2D" : "DownBlock2D");
            if (hasStored(proj)) {
                linear = shape(proj).length == 2;
            }
            up.add(hasStored(u + "output_blocks." + (i * (layers + 1)) + ".1.proj_in.weight")
                    ? "CrossAttnUpBlock2D" : "UpBlock2D");
        }
        for (String k : keys) {
            if (k.endsWith(".attn2.to_k.weight")) {
                crossDim = (int) shape(k)[1];
                break;
            }
        }
        c.add("block_out_channels", channels);
        c.add("down_block_types", down);
        c.add("up_block_types", up);
        c.addProperty("layers_per_block", layers);
        if (hasStored(u + "middle_block.1.proj_in.weight")) {
            c.addProperty("mid_block_type", "UNetMidBlock2DCrossAttn");
        } else {
            c.addProperty("mid_block_type", "UNetMidBlock2D");
        }
        if (crossDim > 0) {
            c.addProperty("cross_attention_dim", crossDim);
        }
        c.addProperty("use_linear_projection", linear);
        long timeDim = shape(u + "time_embed.0.weight")[0];
        if (timeDim != 4L * channels.get(0).getAsLong()) {
            c.addProperty("time_embedding_dim", timeDim);
        }
        // SDXL: several transformer blocks per attention (transformer_layers_per_block), the text_time embedding
        JsonArray depth = new JsonArray();
        boolean deep = false;
        for (int i = 0; i < levels; i++) {
            int first = 1 + i * (layers + 1);
            int n = 0;
            while (hasStored(u + "input_blocks." + first + ".1.transformer_blocks." + n + ".attn1.to_q.weight")) {
                n++;
            }
            depth.add(Math.max(1, n));
            deep |= n > 1;
        }
        if (deep) {
            c.add("transformer_layers_per_block", depth);
        }
        String label = u + "label_emb.0.0.weight";
        if (hasStored(label)) {
            if (family != Family.SDXL) {
                throw new ModelLoadException(path + ": tensor '" + label + "' (a class- or text_time-conditioned UNet)"
                        + " is only read in SDXL checkpoints (keys " + LdmKeys.SDXL_OPEN_CLIP_PREFIX + "*)");
            }
            // SDXL's add_embedding input: text_encoder_2's pooled embeds, then 6 sinusoidal time ids
            long in = shape(label)[1];
            long pooled = text2Config.json().get("projection_dim").getAsLong();
            if (in <= pooled || (in - pooled) % 6 != 0) {
                throw new ModelLoadException(path + ": tensor '" + label + "' takes " + in + " inputs, not the "
                        + pooled + " pooled text embeds plus 6 time ids of equal width");
            }
            c.addProperty("addition_embed_type", "text_time");
            c.addProperty("addition_time_embed_dim", (in - pooled) / 6);
            c.addProperty("projection_class_embeddings_input_dim", in);
        }
        FamilyDefaults.unet(family, c, channels, predictionType, assumed);
        return c;
    }

    private static final Pattern VAE_DOWN_BLOCK = Pattern.compile("^encoder\\.down\\.(\\d+)\\.block\\.(\\d+)\\.");

    private JsonObject inferVae(List<String> assumed) {
        String p = LdmKeys.vaePrefix(file.keys());
        int levels = 0;
        int layers = 0;
        for (String k : file.keys()) {
            if (k.startsWith(p)) {
                Matcher m = VAE_DOWN_BLOCK.matcher(k.substring(p.length()));
                if (m.find()) {
                    levels = Math.max(levels, Integer.parseInt(m.group(1)) + 1);
                    layers = Math.max(layers, Integer.parseInt(m.group(2)) + 1);
                }
            }
        }
        JsonObject c = new JsonObject();
        c.addProperty("_class_name", "AutoencoderKL");
        c.addProperty("in_channels", shape(p + "encoder.conv_in.weight")[1]);
        c.addProperty("out_channels", shape(p + "decoder.conv_out.weight")[0]);
        c.addProperty("latent_channels", shape(p + "decoder.conv_in.weight")[1]);
        JsonArray channels = new JsonArray();
        JsonArray down = new JsonArray();
        JsonArray up = new JsonArray();
        for (int i = 0; i < levels; i++) {
            channels.add(shape(p + "encoder.down." + i + ".block.0.conv1.weight")[0]);
            down.add("DownEncoderBlock2D");
            up.add("UpDecoderBlock2D");
        }
        c.add("block_out_channels", channels);
        c.add("down_block_types", down);
        c.add("up_block_types", up);
        c.addProperty("layers_per_block", layers);
        c.addProperty("use_quant_conv", hasStored(p + "quant_conv.weight"));
        c.addProperty("use_post_quant_conv", hasStored(p + "post_quant_conv.weight"));
        c.addProperty("mid_block_add_attention", hasStored(p + "decoder.mid.attn_1.q.weight"));
        FamilyDefaults.vae(family, c, assumed);
        return c;
    }

    /**
     * A text encoder's config from its tensors ({@code keys}: diffusers key → stored key).
     *
     * @param act        what the weights cannot tell: quick_gelu (OpenAI CLIP: SD 1.x, SDXL's first) or gelu
     *                   (OpenCLIP: SD 2.x, SDXL's second)
     * @param projection CLIPTextModelWithProjection (SDXL's second): projection_dim from text_projection
     */
    private JsonObject inferText(Map<String, String> keys, Map<String, Safetensors.Cut> cuts, String act,
                                 boolean projection, String name, List<String> assumed) {
        JsonObject c = new JsonObject();
        String emb = stored(keys, "embeddings.token_embedding.weight");
        long[] tok = shape(emb);
        int layers = 0;
        Pattern layer = Pattern.compile("encoder\\.layers\\.(\\d+)\\.");
        for (String k : keys.keySet()) {
            Matcher m = layer.matcher(k);
            if (m.find()) {
                layers = Math.max(layers, Integer.parseInt(m.group(1)) + 1);
            }
        }
        c.addProperty("model_type", "clip_text_model");
        c.addProperty("vocab_size", tok[0]);
        c.addProperty("hidden_size", tok[1]);
        c.addProperty("max_position_embeddings", shape(stored(keys, "embeddings.position_embedding.weight"))[0]);
        c.addProperty("num_hidden_layers", layers);
        c.addProperty("intermediate_size", shape(stored(keys, "encoder.layers.0.mlp.fc1.weight"))[0]);
        if (projection) {
            String proj = keys.get("text_projection.weight");
            if (proj == null) {
                throw new ModelLoadException(path + ": missing tensor '" + LdmKeys.SDXL_OPEN_CLIP_PREFIX
                        + "text_projection' (SDXL's pooled text embeds)");
            }
            c.addProperty("projection_dim", cuts.get("text_projection.weight").shapeOf(shape(proj))[0]);
        }
        // CLIP ViT-L/14 (SD 1.x, SDXL), OpenCLIP ViT-H/14 (SD 2.x) and ViT-bigG/14 (SDXL): heads of 64 channels;
        // eps 1e-5 in all
        c.addProperty("num_attention_heads", Math.max(1, tok[1] / 64));
        c.addProperty("hidden_act", act);
        c.addProperty("layer_norm_eps", 1e-5);
        assumed.add(name + " num_attention_heads " + Math.max(1, tok[1] / 64) + " (64 channels each),"
                + " hidden_act " + act);
        return c;
    }

    /** The stored key of a text-encoder tensor, with or without transformers' {@code text_model.} prefix. */
    private String stored(Map<String, String> keys, String key) {
        String s = keys.get("text_model." + key);
        if (s == null) {
            s = keys.get(key);
        }
        if (s == null) {
            throw new ModelLoadException(path + ": missing text-encoder tensor '" + key + "' (diffusers name; keys "
                    + (family == Family.SD1 ? LdmKeys.CLIP_PREFIX + "text_model." : "of the text encoders") + "*)");
        }
        return s;
    }

    /**
     * What diffusers' {@code create_scheduler_from_ldm} decides for an SD 2.x file without a config: v_prediction,
     * unless the checkpoint's {@code global_step} is 875000 (SD 2.0-base's, an epsilon model). Pickles carry that
     * entry; a safetensors conversion keeps it only as a tensor, and usually not at all, so an SD 2.x base (512 px,
     * epsilon) file needs a sidecar saying {@code prediction_type: epsilon}.
     */
    private String sd2PredictionType(List<String> assumed) {
        long step = -1;
        if (file.contains("global_step") && file.info("global_step").numel() == 1) {
            try {
                java.nio.ByteBuffer b = file.raw("global_step");
                step = switch (file.info("global_step").dtype()) {
                    case "I64" -> b.getLong(0);
                    case "I32" -> b.getInt(0);
                    default -> -1;
                };
            } catch (IOException e) {
                throw new ModelLoadException(path + ": cannot read tensor 'global_step': " + e.getMessage(), e);
            }
        }
        String t = step == 875000 ? "epsilon" : "v_prediction";
        assumed.add("prediction_type " + t + " (diffusers' rule for SD 2.x: global_step "
                + (step < 0 ? "absent" : step) + (step == 875000 ? " is SD 2.0-base's" : " is not 875000")
                + "; a sidecar's prediction_type overrides it)");
        return t;
    }

    private String inferredSummary() {
        JsonObject u = unetConfig.json();
        JsonObject t = textConfig.json();
        return "unet in_channels " + u.get("in_channels") + ", block_out_channels " + u.get("block_out_channels")
                + ", layers_per_block " + u.get("layers_per_block") + ", cross_attention_dim "
                + u.get("cross_attention_dim") + "; vae block_out_channels " + vaeConfig.json().get("block_out_channels")
                + "; text_encoder hidden_size " + t.get("hidden_size") + ", " + t.get("num_hidden_layers") + " layers"
                + (text2Config == null ? "" : "; text_encoder_2 hidden_size " + text2Config.json().get("hidden_size")
                + ", " + text2Config.json().get("num_hidden_layers") + " layers, projection_dim "
                + text2Config.json().get("projection_dim") + "; unet transformer_layers_per_block "
                + u.get("transformer_layers_per_block") + ", addition_time_embed_dim "
                + u.get("addition_time_embed_dim"));
    }

    /** The inferred config with the sidecar's overrides for {@code section} applied. */
    private JsonConfig config(String section, JsonObject inferred, String name) {
        JsonObject o = sidecar.apply(section, inferred);
        return new JsonConfig(path + " (" + name + " config inferred from the weights"
                + (sidecar.path() == null ? "" : " and " + sidecar.path().getFileName()) + ")", o);
    }

    public Path path() {
        return path;
    }

    public Family family() {
        return family;
    }

    public SingleFileSidecar sidecar() {
        return sidecar;
    }

    public JsonConfig unetConfig() {
        return unetConfig;
    }

    public JsonConfig vaeConfig() {
        return vaeConfig;
    }

    public JsonConfig textEncoderConfig() {
        return textConfig;
    }

    public JsonConfig schedulerConfig() {
        return schedulerConfig;
    }

    /** The UNet's tensors under diffusers names (a view; valid until {@link #close}). */
    public Weights unetWeights() {
        return Weights.renamed(file, unetKeys);
    }

    public Weights vaeWeights() {
        return Weights.renamed(file, vaeKeys);
    }

    public Weights textEncoderWeights() {
        return Weights.renamed(file, clipKeys, clipCuts);
    }

    /** SDXL's text_encoder_2 config (CLIPTextModelWithProjection), or null. */
    public JsonConfig textEncoder2Config() {
        return text2Config;
    }

    /** SDXL's text_encoder_2 tensors under transformers names (a view; valid until {@link #close}). */
    public Weights textEncoder2Weights() {
        if (text2Config == null) {
            throw new IllegalStateException(path + " is not an SDXL checkpoint");
        }
        return Weights.renamed(file, clip2Keys, clip2Cuts);
    }

    /** The tokenizer folder the sidecar names ({@code tokenizer} or {@code tokenizer_2}), or null: the bundled one. */
    public Path tokenizerDir(String key) {
        return sidecar.tokenizer(key);
    }

    /**
     * The pad token where it is not the bundled vocabulary's (EOS) and the sidecar names no tokenizer folder: OpenCLIP's
     * tokenizers pad with "!" (stabilityai/stable-diffusion-2-1's special_tokens_map.json; SDXL base's tokenizer_2).
     * Null: the tokenizer's own.
     */
    public String padToken() {
        return family == Family.SD2 && sidecar.tokenizer("tokenizer") == null ? "!" : null;
    }

    /** {@link #padToken()} of SDXL's tokenizer_2. */
    public String pad2Token() {
        return family == Family.SDXL && sidecar.tokenizer("tokenizer_2") == null ? "!" : null;
    }

    /** SDXL base's model_index.json: an empty negative prompt is zeros. */
    public boolean forceZerosForEmptyPrompt() {
        return family == Family.SDXL;
    }

    /** diffusers key → stored key, per component ("unet", "vae", "text_encoder"). */
    public Map<String, Map<String, String>> keyMaps() {
        return text2Config == null ? Map.of("unet", unetKeys, "vae", vaeKeys, "text_encoder", clipKeys)
                : Map.of("unet", unetKeys, "vae", vaeKeys, "text_encoder", clipKeys, "text_encoder_2", clip2Keys);
    }

    /** Stored keys no component reads (LDM schedule buffers, EMA copies, …), for the record. */
    public Set<String> otherKeys() {
        Set<String> out = new TreeSet<>(file.keys());
        for (Map<String, String> m : keyMaps().values()) {
            out.removeAll(m.values());
        }
        return out;
    }

    @Override
    public void close() {
        file.closeQuietly();
    }
}
