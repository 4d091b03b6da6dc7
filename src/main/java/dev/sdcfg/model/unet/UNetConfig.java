package dev.sdcfg.model.unet;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.config.JsonConfig;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * The parts of diffusers' {@code UNet2DConditionModel} config that Stable Diffusion 1.x, 2.x and XL use, resolved the
 * way diffusers resolves them (scalars repeated per block, the legacy meaning of {@code attention_head_dim}) by
 * {@link #from}. Per-block lists have one entry per down block, index i.
 *
 * @param source                the config file this was read from
 * @param sampleHeight          latent height the model was trained at (config {@code sample_size}), 0 when none
 * @param midBlockType          {@code UNetMidBlock2DCrossAttn}, {@code UNetMidBlock2D} (one resnet), or null when
 *                              there is no mid block
 * @param downTransformerLayers transformer depth of each attention of down block i: [i][layer]
 * @param midTransformerLayers  transformer depth of the mid block's attention
 * @param upTransformerLayers   transformer depth of each attention of up block i (diffusers' index, deepest first)
 * @param onlyCrossAttention    {@code only_cross_attention} of down block i (up block i uses entry n−1−i)
 * @param numAttentionHeads     attention heads of down block i (config {@code attention_head_dim}, legacy meaning)
 * @param crossAttentionDims    config {@code cross_attention_dim}, per down block
 * @param encoderHidDim         {@code encoder_hid_dim} when the UNet projects its text input ("text_proj"), else 0
 * @param timeEmbeddingActFn    diffusers' {@code time_embedding_act_fn} (applied to the time embedding before the
 *                              blocks), or null
 * @param timestepPostAct       diffusers' {@code timestep_post_act} (the TimestepEmbedding's post activation), or null
 * @param addition              SDXL's added conditioning ({@code addition_embed_type} "text_time"), or null
 */
public record UNetConfig(String source, int inChannels, int outChannels, int sampleHeight, int sampleWidth,
                         boolean centerInputSample, boolean flipSinToCos, double freqShift,
                         List<String> downBlockTypes, List<String> upBlockTypes, String midBlockType,
                         List<Integer> blockOutChannels, List<Integer> layersPerBlock,
                         List<List<Integer>> downTransformerLayers, int midTransformerLayers,
                         List<List<Integer>> upTransformerLayers, List<Boolean> onlyCrossAttention,
                         List<Integer> numAttentionHeads, List<Integer> crossAttentionDims, int encoderHidDim,
                         int downsamplePadding, double midBlockScaleFactor, int normNumGroups, double normEps,
                         boolean useLinearProjection, boolean upcastAttention, String resnetTimeScaleShift,
                         int convInKernel, int convOutKernel, int timeEmbedDim, String timeEmbeddingActFn,
                         String timestepPostAct, TextTimeConfig addition) {

    /**
     * {@code addition_embed_type} "text_time" (SDXL): six time ids → {@code add_time_proj} (sinusoids of
     * {@code addition_time_embed_dim} each), concatenated after the pooled text embeds → {@code add_embedding}, a
     * TimestepEmbedding from {@code projection_class_embeddings_input_dim} to the time embedding width.
     *
     * @param timeEmbedDim   {@code addition_time_embed_dim}
     * @param inputDim       {@code projection_class_embeddings_input_dim} = text_embeds width + 6·timeEmbedDim
     */
    public record TextTimeConfig(int timeEmbedDim, int inputDim) {
        /** Number of time ids: original (h, w), crop top-left (y, x), target (h, w). */
        public static final int TIME_IDS = 6;

        /** The pooled text-embedding width this UNet expects (text_encoder_2's projection_dim). */
        public int textEmbedsDim() {
            return inputDim - TIME_IDS * timeEmbedDim;
        }
    }

    public static final String CROSS_ATTN_DOWN = "CrossAttnDownBlock2D";
    public static final String DOWN = "DownBlock2D";
    public static final String CROSS_ATTN_UP = "CrossAttnUpBlock2D";
    public static final String UP = "UpBlock2D";
    public static final String MID_CROSS_ATTN = "UNetMidBlock2DCrossAttn";
    /** diffusers' {@code get_mid_block("UNetMidBlock2D")}: num_layers 0, no attention, i.e. one resnet. */
    public static final String MID_PLAIN = "UNetMidBlock2D";

    /** Latent height the model was trained at (config {@code sample_size}), 0 when the config has none. */
    public int sampleSize() {
        return sampleHeight;
    }

    public int numBlocks() {
        return blockOutChannels.size();
    }

    /** The text-embedding width the UNet expects (the first block's; SD configs use one value for all). */
    public int crossAttentionDim() {
        return crossAttentionDims.get(0);
    }

    /** The text-embedding width the UNet takes as encoder_hidden_states: encoder_hid_dim or cross_attention_dim. */
    public int contextDim() {
        return encoderHidDim > 0 ? encoderHidDim : crossAttentionDim();
    }

    /**
     * Reads a UNet config as diffusers' {@code UNet2DConditionModel.from_config} would: every value this runtime
     * does not implement fails with a {@link ModelLoadException} naming the file and the key.
     */
    public static UNetConfig from(JsonConfig c) {
        String source = c.source();
        String cls = c.getString("_class_name", "UNet2DConditionModel");
        if (!"UNet2DConditionModel".equals(cls)) {
            throw unsupported(c, "_class_name", "'" + cls + "' (only UNet2DConditionModel is supported)");
        }
        warnUnknownKeys(c);
        // diffusers passes an explicit null to __init__ as None; for these keys that fails in diffusers or means
        // something other than the default, so it is refused rather than read as the default.
        for (String k : NULL_REFUSED) {
            if (c.isNull(k)) {
                throw unsupported(c, k, "null (diffusers cannot build a UNet with " + k + "=None)");
            }
        }
        // Features Stable Diffusion pipelines cannot drive: they must be absent or null.
        for (String k : List.of("class_embed_type", "num_class_embeds", "time_cond_proj_dim")) {
            if (c.has(k)) {
                throw unsupported(c, k, c.json().get(k) + " (only null is supported: "
                        + ABSENT_REASONS.get(k) + ")");
            }
        }
        if (c.has("num_attention_heads")) {
            // diffusers itself raises here: attention_head_dim carries the head count in these configs.
            throw unsupported(c, "num_attention_heads", c.json().get("num_attention_heads")
                    + " (diffusers rejects it too; SD configs give the head count as attention_head_dim)");
        }
        if (c.getPyBool("dual_cross_attention", false)) {
            throw unsupported(c, "dual_cross_attention", "true (only false is supported)");
        }
        if (c.getPyBool("class_embeddings_concat", false)) {
            throw unsupported(c, "class_embeddings_concat", "true (only false is supported)");
        }
        c.getEnum("attention_type", "default", "default");
        c.getEnum("time_embedding_type", "positional", "positional");
        c.getEnum("act_fn", "silu", "silu", "swish");
        String resnetTimeScaleShift = c.getEnum("resnet_time_scale_shift", "default", "default", "scale_shift");
        String timeEmbeddingActFn = c.getEnum("time_embedding_act_fn", null, ACTIVATIONS);
        String timestepPostAct = c.getEnum("timestep_post_act", null, ACTIVATIONS);

        int inChannels = c.getInt("in_channels", 4);
        int outChannels = c.getInt("out_channels", 4);
        int sampleHeight;
        int sampleWidth;
        if (c.isArray("sample_size")) {
            int[] s = c.getIntArray("sample_size", null);
            if (s.length != 2) {
                throw new ModelLoadException(source + ": 'sample_size' must be an integer or [height, width]");
            }
            sampleHeight = s[0];
            sampleWidth = s[1];
        } else {
            sampleHeight = c.getInt("sample_size", 0);
            sampleWidth = sampleHeight;
        }
        boolean centerInputSample = c.getPyBool("center_input_sample", false);
        boolean flipSinToCos = c.getPyBool("flip_sin_to_cos", true);
        double freqShift = c.getDouble("freq_shift", 0);

        List<String> downBlockTypes = stripUNetRes(stringList(c, "down_block_types",
                List.of(CROSS_ATTN_DOWN, CROSS_ATTN_DOWN, CROSS_ATTN_DOWN, DOWN)));
        List<String> upBlockTypes = stripUNetRes(stringList(c, "up_block_types",
                List.of(UP, CROSS_ATTN_UP, CROSS_ATTN_UP, CROSS_ATTN_UP)));
        for (String t : downBlockTypes) {
            if (!CROSS_ATTN_DOWN.equals(t) && !DOWN.equals(t)) {
                throw unsupported(c, "down_block_types", "'" + t + "' (supported: " + CROSS_ATTN_DOWN + ", " + DOWN + ")");
            }
        }
        for (String t : upBlockTypes) {
            if (!CROSS_ATTN_UP.equals(t) && !UP.equals(t)) {
                throw unsupported(c, "up_block_types", "'" + t + "' (supported: " + CROSS_ATTN_UP + ", " + UP + ")");
            }
        }
        JsonObject j = c.json();
        String midBlockType;
        if (j.has("mid_block_type") && j.get("mid_block_type").isJsonNull()) {
            midBlockType = null; // diffusers: no mid block
        } else {
            midBlockType = c.getEnum("mid_block_type", MID_CROSS_ATTN, MID_CROSS_ATTN, MID_PLAIN);
        }
        int n = downBlockTypes.size();
        if (n == 0) {
            throw new ModelLoadException(source + ": 'down_block_types' is empty");
        }
        if (upBlockTypes.size() != n) {
            throw new ModelLoadException(source + ": 'up_block_types' has " + upBlockTypes.size()
                    + " entries but 'down_block_types' has " + n);
        }
        int[] blockOutChannels = c.getIntArray("block_out_channels", new int[] {320, 640, 1280, 1280});
        if (blockOutChannels.length != n) {
            throw new ModelLoadException(source + ": 'block_out_channels' has " + blockOutChannels.length
                    + " entries but 'down_block_types' has " + n);
        }
        int[] layersPerBlock = c.getIntOrArray("layers_per_block", n, 2);
        for (int i = 0; i < n; i++) {
            check(c, "layers_per_block", layersPerBlock[i] > 0, "entries must be positive");
        }
        List<Boolean> onlyCrossAttention = boolOrList(c, "only_cross_attention", n);
        Depths depths = transformerLayers(c, n, layersPerBlock);
        // Legacy naming (diffusers issue #2011): num_attention_heads = num_attention_heads or attention_head_dim,
        // so in these configs attention_head_dim is the number of heads of each block.
        int[] numAttentionHeads = intOrFlatList(c, "attention_head_dim", n, 8);
        int[] crossAttentionDim = c.getIntOrArray("cross_attention_dim", n, 1280);
        int encoderHidDim = encoderHidDim(c);
        int downsamplePadding = c.getInt("downsample_padding", 1);
        double midBlockScaleFactor = c.getDouble("mid_block_scale_factor", 1.0);
        if (j.has("norm_num_groups") && j.get("norm_num_groups").isJsonNull()) {
            throw unsupported(c, "norm_num_groups", "null (a UNet without GroupNorm is not supported)");
        }
        int normNumGroups = c.getInt("norm_num_groups", 32);
        double normEps = c.getDouble("norm_eps", 1e-5);
        boolean useLinearProjection = c.getPyBool("use_linear_projection", false);
        boolean upcastAttention = c.getPyBool("upcast_attention", false);
        int convInKernel = c.getInt("conv_in_kernel", 3);
        int convOutKernel = c.getInt("conv_out_kernel", 3);
        for (String k : List.of("conv_in_kernel", "conv_out_kernel")) {
            int v = c.getInt(k, 3);
            if (v <= 0 || v % 2 == 0) {
                throw unsupported(c, k, v + " (an odd kernel size is required)");
            }
        }
        int timeEmbedDim = c.getInt("time_embedding_dim", blockOutChannels[0] * 4);
        TextTimeConfig addition = addition(c);

        for (int i = 0; i < n; i++) {
            check(c, "block_out_channels", blockOutChannels[i] > 0 && blockOutChannels[i] % normNumGroups == 0,
                    "entry " + blockOutChannels[i] + " is not a positive multiple of norm_num_groups " + normNumGroups);
            check(c, "cross_attention_dim", crossAttentionDim[i] > 0, "entries must be positive");
            check(c, "attention_head_dim", numAttentionHeads[i] > 0, "entries must be positive");
        }
        // Every block with attention splits its channels into heads: down block i, the mid block (last entry),
        // up block i (reversed entries).
        for (int i = 0; i < n; i++) {
            if (CROSS_ATTN_DOWN.equals(downBlockTypes.get(i))) {
                checkHeads(c, blockOutChannels[i], numAttentionHeads[i], "down_blocks." + i);
            }
            if (CROSS_ATTN_UP.equals(upBlockTypes.get(i))) {
                checkHeads(c, blockOutChannels[n - 1 - i], numAttentionHeads[n - 1 - i], "up_blocks." + i);
            }
        }
        if (MID_CROSS_ATTN.equals(midBlockType)) {
            checkHeads(c, blockOutChannels[n - 1], numAttentionHeads[n - 1], "mid_block");
        }
        return new UNetConfig(source, inChannels, outChannels, sampleHeight, sampleWidth, centerInputSample,
                flipSinToCos, freqShift, downBlockTypes, upBlockTypes, midBlockType, list(blockOutChannels),
                list(layersPerBlock), depths.down, depths.mid, depths.up, onlyCrossAttention, list(numAttentionHeads),
                list(crossAttentionDim), encoderHidDim, downsamplePadding, midBlockScaleFactor, normNumGroups, normEps,
                useLinearProjection, upcastAttention, resnetTimeScaleShift, convInKernel, convOutKernel, timeEmbedDim,
                timeEmbeddingActFn, timestepPostAct, addition);
    }

    /**
     * {@code addition_embed_type}: null, or "text_time" with {@code addition_time_embed_dim} and
     * {@code projection_class_embeddings_input_dim} (diffusers' {@code _set_add_embedding}); the other kinds
     * (text, text_image, image, image_hint: Kandinsky / IP-style models) need inputs these pipelines do not make.
     */
    private static TextTimeConfig addition(JsonConfig c) {
        String type = c.getString("addition_embed_type", null);
        if (type == null) {
            return null;
        }
        if (!"text_time".equals(type)) {
            throw unsupported(c, "addition_embed_type", "'" + type + "' (supported: text_time, or null)");
        }
        int dim = c.getInt("addition_time_embed_dim", 0);
        int in = c.getInt("projection_class_embeddings_input_dim", 0);
        check(c, "addition_time_embed_dim", dim > 0, "must be a positive integer with addition_embed_type text_time");
        check(c, "projection_class_embeddings_input_dim", in > TextTimeConfig.TIME_IDS * dim,
                "must exceed 6 x addition_time_embed_dim (" + TextTimeConfig.TIME_IDS * dim
                        + ": the pooled text embeds come first)");
        return new TextTimeConfig(dim, in);
    }

    /** diffusers' {@code get_activation} names this runtime implements exactly ("mish" is not among them). */
    private static final String[] ACTIVATIONS = {"silu", "swish", "gelu", "relu"};

    /** Keys whose explicit null diffusers cannot build with (or reads differently from the default). */
    private static final List<String> NULL_REFUSED = List.of("in_channels", "out_channels", "block_out_channels",
            "down_block_types", "up_block_types", "layers_per_block", "attention_head_dim", "cross_attention_dim",
            "transformer_layers_per_block", "only_cross_attention", "downsample_padding", "mid_block_scale_factor",
            "norm_eps", "act_fn", "freq_shift", "conv_in_kernel", "conv_out_kernel", "resnet_time_scale_shift",
            "time_embedding_type", "attention_type");

    private static final java.util.Map<String, String> ABSENT_REASONS = java.util.Map.of(
            "class_embed_type", "class embeddings need class labels the pipeline does not pass",
            "num_class_embeds", "class embeddings need class labels the pipeline does not pass",
            "time_cond_proj_dim", "guidance-embedding (LCM) UNets change the pipeline's guidance");

    /**
     * Every key of diffusers' UNet2DConditionModel.__init__. Keys outside it are ignored by diffusers with a
     * warning; so are they here.
     */
    static final Set<String> KNOWN_KEYS = Set.of("sample_size", "in_channels", "out_channels", "center_input_sample",
            "flip_sin_to_cos", "freq_shift", "down_block_types", "mid_block_type", "up_block_types",
            "only_cross_attention", "block_out_channels", "layers_per_block", "downsample_padding",
            "mid_block_scale_factor", "dropout", "act_fn", "norm_num_groups", "norm_eps", "cross_attention_dim",
            "transformer_layers_per_block", "reverse_transformer_layers_per_block", "encoder_hid_dim",
            "encoder_hid_dim_type", "attention_head_dim", "num_attention_heads", "dual_cross_attention",
            "use_linear_projection", "class_embed_type", "addition_embed_type", "addition_time_embed_dim",
            "num_class_embeds", "upcast_attention", "resnet_time_scale_shift", "resnet_skip_time_act",
            "resnet_out_scale_factor", "time_embedding_type", "time_embedding_dim", "time_embedding_act_fn",
            "timestep_post_act", "time_cond_proj_dim", "conv_in_kernel", "conv_out_kernel",
            "projection_class_embeddings_input_dim", "attention_type", "class_embeddings_concat",
            "mid_block_only_cross_attention", "cross_attention_norm", "addition_embed_type_num_heads");

    /** Logs (as diffusers does) the keys UNet2DConditionModel does not know; they do not change the model. */
    private static void warnUnknownKeys(JsonConfig c) {
        List<String> unknown = new ArrayList<>();
        for (String k : c.json().keySet()) {
            if (!k.startsWith("_") && !KNOWN_KEYS.contains(k)) {
                unknown.add(k);
            }
        }
        if (!unknown.isEmpty()) {
            System.getLogger(UNetConfig.class.getName()).log(System.Logger.Level.WARNING,
                    "{0}: config keys {1} are not UNet2DConditionModel parameters and are ignored (as diffusers"
                            + " ignores them)", c.source(), unknown);
        }
    }

    /** {@code only_cross_attention}: one boolean for every block or a list with one per down block. */
    private static List<Boolean> boolOrList(JsonConfig c, String key, int n) {
        Boolean[] out = new Boolean[n];
        if (c.isArray(key)) {
            JsonArray a = c.json().getAsJsonArray(key);
            if (a.size() != n) {
                throw new ModelLoadException(c.source() + ": '" + key + "' has " + a.size() + " entries, expected "
                        + n + " (one per down block)");
            }
            for (int i = 0; i < n; i++) {
                JsonElement e = a.get(i);
                if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
                    throw new ModelLoadException(c.source() + ": '" + key + "' entries must be true or false, got "
                            + a);
                }
                out[i] = e.getAsBoolean();
            }
        } else {
            Arrays.fill(out, c.getBool(key, false));
        }
        return List.of(out);
    }

    /**
     * Resolves {@code transformer_layers_per_block} and {@code reverse_transformer_layers_per_block} into the
     * per-attention depths of every block, as diffusers does: an int applies everywhere; a list has one entry per
     * down block, each an int (every attention of that block) or a list (one per attention; nested lists need
     * {@code reverse_transformer_layers_per_block}, diffusers raises otherwise). The mid block takes the last entry
     * (its first element when it is a list). Up block i takes {@code reverse_transformer_layers_per_block[i]} when
     * given, else the entry of down block n−1−i.
     */
    private static Depths transformerLayers(JsonConfig c, int n, int[] layersPerBlock) {
        String source = c.source();
        String key = "transformer_layers_per_block";
        String revKey = "reverse_transformer_layers_per_block";
        JsonElement tl = c.json().get(key);
        JsonElement rev = c.has(revKey) ? c.json().get(revKey) : null;
        if (tl != null && tl.isJsonNull()) {
            tl = null;
        }
        if (rev != null && (!rev.isJsonArray() || rev.getAsJsonArray().size() != n)) {
            throw new ModelLoadException(source + ": '" + revKey + "' must be a list with one entry per up block ("
                    + n + "), got " + rev);
        }
        JsonElement[] perBlock = new JsonElement[n];
        if (tl == null || tl.isJsonPrimitive()) {
            int v = tl == null ? 1 : depth(c, key, tl);
            Arrays.fill(perBlock, new com.google.gson.JsonPrimitive(v));
        } else if (tl.isJsonArray()) {
            JsonArray a = tl.getAsJsonArray();
            if (a.size() != n) {
                throw new ModelLoadException(source + ": '" + key + "' has " + a.size() + " entries, expected " + n);
            }
            for (int i = 0; i < n; i++) {
                perBlock[i] = a.get(i);
                if (perBlock[i].isJsonArray() && rev == null) {
                    throw new ModelLoadException(source + ": '" + key + "' " + a + " has per-layer lists (an"
                            + " asymmetric UNet), which need '" + revKey + "' (diffusers raises the same)");
                }
            }
        } else {
            throw new ModelLoadException(source + ": '" + key + "' must be an integer or a list, got " + tl);
        }
        List<List<Integer>> down = new ArrayList<>();
        List<List<Integer>> up = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            down.add(list(depths(c, key, perBlock[i], layersPerBlock[i], "down block " + i)));
            JsonElement upEntry = rev != null ? rev.getAsJsonArray().get(i) : perBlock[n - 1 - i];
            up.add(list(depths(c, rev != null ? revKey : key, upEntry, layersPerBlock[n - 1 - i] + 1,
                    "up block " + i)));
        }
        JsonElement last = perBlock[n - 1];
        int mid = last.isJsonArray() ? depths(c, key, last, 1, "the mid block")[0] : depth(c, key, last);
        return new Depths(List.copyOf(down), mid, List.copyOf(up));
    }

    /** Transformer depths per attention: down block i, the mid block, up block i. */
    private record Depths(List<List<Integer>> down, int mid, List<List<Integer>> up) {
    }

    private static int[] depths(JsonConfig c, String key, JsonElement e, int layers, String where) {
        int[] out = new int[layers];
        if (e.isJsonArray()) {
            JsonArray a = e.getAsJsonArray();
            if (a.size() < layers) {
                throw new ModelLoadException(c.source() + ": '" + key + "' gives " + where + " " + a.size()
                        + " transformer depths but it has " + layers + " attentions");
            }
            for (int j = 0; j < layers; j++) {
                out[j] = depth(c, key, a.get(j));
            }
        } else {
            Arrays.fill(out, depth(c, key, e));
        }
        return out;
    }

    private static int depth(JsonConfig c, String key, JsonElement e) {
        if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber()) {
            double d = e.getAsDouble();
            if (d == Math.rint(d) && d >= 0 && d <= 1000) {
                return (int) d;
            }
        }
        throw new ModelLoadException(c.source() + ": '" + key + "' entries must be non-negative integers, got " + e);
    }

    /**
     * {@code encoder_hid_dim} / {@code encoder_hid_dim_type}: diffusers' "text_proj" (a Linear from encoder_hid_dim
     * to cross_attention_dim applied to the text embeddings; the default type when only the dim is set) is
     * implemented; the image projections need inputs the pipeline does not have. Returns 0 when there is none.
     */
    private static int encoderHidDim(JsonConfig c) {
        String type = c.getString("encoder_hid_dim_type", null);
        boolean hasDim = c.has("encoder_hid_dim");
        if (type == null && !hasDim) {
            return 0;
        }
        if (!hasDim) {
            throw unsupported(c, "encoder_hid_dim_type", "'" + type + "' without 'encoder_hid_dim' (diffusers"
                    + " raises the same)");
        }
        if (type != null && !"text_proj".equals(type)) {
            throw unsupported(c, "encoder_hid_dim_type", "'" + type + "' (supported: text_proj, or null with"
                    + " 'encoder_hid_dim' set)");
        }
        if (c.isArray("cross_attention_dim")) {
            throw unsupported(c, "encoder_hid_dim", c.json().get("encoder_hid_dim") + " with a list-valued"
                    + " 'cross_attention_dim' (diffusers' text_proj needs one width)");
        }
        int d = c.getInt("encoder_hid_dim", 0);
        check(c, "encoder_hid_dim", d > 0, "must be positive");
        return d;
    }

    private static void checkHeads(JsonConfig c, int channels, int heads, String where) {
        if (channels % heads != 0) {
            throw new ModelLoadException(c.source() + ": 'attention_head_dim' gives " + where + " " + heads
                    + " attention heads, which do not divide its " + channels + " channels");
        }
    }

    private static void check(JsonConfig c, String key, boolean ok, String what) {
        if (!ok) {
            throw new ModelLoadException(c.source() + ": '" + key + "': " + what);
        }
    }

    private static ModelLoadException unsupported(JsonConfig c, String key, String value) {
        return new ModelLoadException(c.source() + ": unsupported value for '" + key + "': " + value);
    }

    private static List<String> stringList(JsonConfig c, String key, List<String> dflt) {
        List<String> l = c.getStringList(key);
        return l == null ? dflt : l;
    }

    /** diffusers strips a "UNetRes" prefix from block type names. */
    private static List<String> stripUNetRes(List<String> types) {
        List<String> out = new ArrayList<>();
        for (String t : types) {
            out.add(t != null && t.startsWith("UNetRes") ? t.substring(7) : t);
        }
        return List.copyOf(out);
    }

    /** An int or a flat list of ints with one entry per block; nested lists (asymmetric UNets) are rejected. */
    private static int[] intOrFlatList(JsonConfig c, String key, int n, int dflt) {
        if (c.isArray(key)) {
            JsonArray a = c.json().getAsJsonArray(key);
            for (JsonElement e : a) {
                if (e.isJsonArray()) {
                    throw unsupported(c, key, a + " (nested lists are not supported)");
                }
                if (e.isJsonNull()) {
                    throw unsupported(c, key, a + " (null entries are not supported)");
                }
            }
        }
        return c.getIntOrArray(key, n, dflt);
    }

    private static List<Integer> list(int[] a) {
        return Arrays.stream(a).boxed().toList();
    }

    @Override
    public String toString() {
        return "UNetConfig[" + source + ", blocks " + blockOutChannels + ", heads " + numAttentionHeads + ", cross "
                + crossAttentionDims + (useLinearProjection ? ", linear proj" : "") + (upcastAttention ? ", upcast" : "")
                + "]";
    }
}
