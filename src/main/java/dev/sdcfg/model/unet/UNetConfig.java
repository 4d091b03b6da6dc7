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
 * The parts of diffusers' {@code UNet2DConditionModel} config that Stable Diffusion 1.x and 2.x use, resolved the
 * way diffusers resolves them (scalars repeated per block, the legacy meaning of {@code attention_head_dim}). Every
 * value this runtime does not implement fails with a {@link ModelLoadException} naming the file and the key.
 */
public final class UNetConfig {

    public static final String CROSS_ATTN_DOWN = "CrossAttnDownBlock2D";
    public static final String DOWN = "DownBlock2D";
    public static final String CROSS_ATTN_UP = "CrossAttnUpBlock2D";
    public static final String UP = "UpBlock2D";
    public static final String MID_CROSS_ATTN = "UNetMidBlock2DCrossAttn";

    private final String source;
    private final int inChannels;
    private final int outChannels;
    private final int sampleHeight;
    private final int sampleWidth;
    private final boolean centerInputSample;
    private final boolean flipSinToCos;
    private final double freqShift;
    private final List<String> downBlockTypes;
    private final List<String> upBlockTypes;
    private final String midBlockType;
    private final int[] blockOutChannels;
    private final int[] layersPerBlock;
    private final int[] transformerLayersPerBlock;
    private final int[] numAttentionHeads;
    private final int[] crossAttentionDim;
    private final int downsamplePadding;
    private final double midBlockScaleFactor;
    private final int normNumGroups;
    private final double normEps;
    private final boolean useLinearProjection;
    private final boolean upcastAttention;
    private final String resnetTimeScaleShift;
    private final int convInKernel;
    private final int convOutKernel;
    private final int timeEmbedDim;

    public UNetConfig(JsonConfig c) {
        this.source = c.source();
        String cls = c.getString("_class_name", "UNet2DConditionModel");
        if (!"UNet2DConditionModel".equals(cls)) {
            throw unsupported(c, "_class_name", "'" + cls + "' (only UNet2DConditionModel is supported)");
        }
        // Features SD 1.x/2.x do not use: they must be absent, null or their neutral value.
        for (String k : List.of("class_embed_type", "num_class_embeds", "addition_embed_type", "time_cond_proj_dim",
                "encoder_hid_dim", "encoder_hid_dim_type", "timestep_post_act", "time_embedding_act_fn",
                "reverse_transformer_layers_per_block")) {
            if (c.has(k)) {
                throw unsupported(c, k, c.json().get(k) + " (only null is supported)");
            }
        }
        if (c.has("num_attention_heads")) {
            // diffusers itself raises here: attention_head_dim carries the head count in these configs.
            throw unsupported(c, "num_attention_heads", c.json().get("num_attention_heads")
                    + " (diffusers rejects it too; SD configs give the head count as attention_head_dim)");
        }
        c.requireAbsentOr("dual_cross_attention", Set.of(false));
        c.requireAbsentOr("class_embeddings_concat", Set.of(false));
        c.getEnum("attention_type", "default", "default");
        c.getEnum("time_embedding_type", "positional", "positional");
        c.getEnum("act_fn", "silu", "silu", "swish");
        this.resnetTimeScaleShift = c.getEnum("resnet_time_scale_shift", "default", "default", "scale_shift");
        if (c.isArray("only_cross_attention")) {
            for (JsonElement e : c.json().getAsJsonArray("only_cross_attention")) {
                if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean() || e.getAsBoolean()) {
                    throw unsupported(c, "only_cross_attention", c.json().get("only_cross_attention")
                            + " (only false is supported)");
                }
            }
        } else if (c.getBool("only_cross_attention", false)) {
            throw unsupported(c, "only_cross_attention", "true (only false is supported)");
        }

        this.inChannels = c.getInt("in_channels", 4);
        this.outChannels = c.getInt("out_channels", 4);
        if (c.isArray("sample_size")) {
            int[] s = c.getIntArray("sample_size", null);
            if (s.length != 2) {
                throw new ModelLoadException(source + ": 'sample_size' must be an integer or [height, width]");
            }
            this.sampleHeight = s[0];
            this.sampleWidth = s[1];
        } else {
            this.sampleHeight = c.getInt("sample_size", 0);
            this.sampleWidth = sampleHeight;
        }
        this.centerInputSample = c.getBool("center_input_sample", false);
        this.flipSinToCos = c.getBool("flip_sin_to_cos", true);
        this.freqShift = c.getDouble("freq_shift", 0);

        this.downBlockTypes = stripUNetRes(stringList(c, "down_block_types",
                List.of(CROSS_ATTN_DOWN, CROSS_ATTN_DOWN, CROSS_ATTN_DOWN, DOWN)));
        this.upBlockTypes = stripUNetRes(stringList(c, "up_block_types",
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
        if (j.has("mid_block_type") && j.get("mid_block_type").isJsonNull()) {
            this.midBlockType = null; // diffusers: no mid block
        } else {
            this.midBlockType = c.getEnum("mid_block_type", MID_CROSS_ATTN, MID_CROSS_ATTN);
        }
        int n = downBlockTypes.size();
        if (n == 0) {
            throw new ModelLoadException(source + ": 'down_block_types' is empty");
        }
        if (upBlockTypes.size() != n) {
            throw new ModelLoadException(source + ": 'up_block_types' has " + upBlockTypes.size()
                    + " entries but 'down_block_types' has " + n);
        }
        this.blockOutChannels = c.getIntArray("block_out_channels", new int[] {320, 640, 1280, 1280});
        if (blockOutChannels.length != n) {
            throw new ModelLoadException(source + ": 'block_out_channels' has " + blockOutChannels.length
                    + " entries but 'down_block_types' has " + n);
        }
        this.layersPerBlock = c.getIntOrArray("layers_per_block", n, 2);
        this.transformerLayersPerBlock = intOrFlatList(c, "transformer_layers_per_block", n, 1);
        // Legacy naming (diffusers issue #2011): num_attention_heads = num_attention_heads or attention_head_dim,
        // so in these configs attention_head_dim is the number of heads of each block.
        this.numAttentionHeads = intOrFlatList(c, "attention_head_dim", n, 8);
        this.crossAttentionDim = c.getIntOrArray("cross_attention_dim", n, 1280);
        this.downsamplePadding = c.getInt("downsample_padding", 1);
        this.midBlockScaleFactor = c.getDouble("mid_block_scale_factor", 1.0);
        if (j.has("norm_num_groups") && j.get("norm_num_groups").isJsonNull()) {
            throw unsupported(c, "norm_num_groups", "null (a UNet without GroupNorm is not supported)");
        }
        this.normNumGroups = c.getInt("norm_num_groups", 32);
        this.normEps = c.getDouble("norm_eps", 1e-5);
        this.useLinearProjection = c.getBool("use_linear_projection", false);
        this.upcastAttention = c.getBool("upcast_attention", false);
        this.convInKernel = c.getInt("conv_in_kernel", 3);
        this.convOutKernel = c.getInt("conv_out_kernel", 3);
        for (String k : List.of("conv_in_kernel", "conv_out_kernel")) {
            int v = c.getInt(k, 3);
            if (v <= 0 || v % 2 == 0) {
                throw unsupported(c, k, v + " (an odd kernel size is required)");
            }
        }
        this.timeEmbedDim = c.getInt("time_embedding_dim", blockOutChannels[0] * 4);

        for (int i = 0; i < n; i++) {
            check(c, "block_out_channels", blockOutChannels[i] > 0 && blockOutChannels[i] % normNumGroups == 0,
                    "entry " + blockOutChannels[i] + " is not a positive multiple of norm_num_groups " + normNumGroups);
            check(c, "layers_per_block", layersPerBlock[i] > 0, "entries must be positive");
            check(c, "transformer_layers_per_block", transformerLayersPerBlock[i] > 0, "entries must be positive");
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
        if (midBlockType != null) {
            checkHeads(c, blockOutChannels[n - 1], numAttentionHeads[n - 1], "mid_block");
        }
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

    /** The config file this was read from. */
    public String source() {
        return source;
    }

    public int inChannels() {
        return inChannels;
    }

    public int outChannels() {
        return outChannels;
    }

    /** Latent height the model was trained at (config {@code sample_size}), 0 when the config has none. */
    public int sampleSize() {
        return sampleHeight;
    }

    public int sampleHeight() {
        return sampleHeight;
    }

    public int sampleWidth() {
        return sampleWidth;
    }

    public boolean centerInputSample() {
        return centerInputSample;
    }

    public boolean flipSinToCos() {
        return flipSinToCos;
    }

    public double freqShift() {
        return freqShift;
    }

    public List<String> downBlockTypes() {
        return downBlockTypes;
    }

    public List<String> upBlockTypes() {
        return upBlockTypes;
    }

    /** {@code UNetMidBlock2DCrossAttn}, or null when the config has no mid block. */
    public String midBlockType() {
        return midBlockType;
    }

    public int numBlocks() {
        return blockOutChannels.length;
    }

    public int[] blockOutChannels() {
        return blockOutChannels.clone();
    }

    public int blockOutChannels(int i) {
        return blockOutChannels[i];
    }

    public int layersPerBlock(int i) {
        return layersPerBlock[i];
    }

    public int transformerLayersPerBlock(int i) {
        return transformerLayersPerBlock[i];
    }

    /** Attention heads of down block {@code i} (config {@code attention_head_dim}, legacy meaning). */
    public int numAttentionHeads(int i) {
        return numAttentionHeads[i];
    }

    public int crossAttentionDim(int i) {
        return crossAttentionDim[i];
    }

    /** The text-embedding width the UNet expects (the first block's; SD configs use one value for all). */
    public int crossAttentionDim() {
        return crossAttentionDim[0];
    }

    public int downsamplePadding() {
        return downsamplePadding;
    }

    public double midBlockScaleFactor() {
        return midBlockScaleFactor;
    }

    public int normNumGroups() {
        return normNumGroups;
    }

    public double normEps() {
        return normEps;
    }

    public boolean useLinearProjection() {
        return useLinearProjection;
    }

    public boolean upcastAttention() {
        return upcastAttention;
    }

    public String resnetTimeScaleShift() {
        return resnetTimeScaleShift;
    }

    public int convInKernel() {
        return convInKernel;
    }

    public int convOutKernel() {
        return convOutKernel;
    }

    public int timeEmbedDim() {
        return timeEmbedDim;
    }

    /** How many times the UNet halves the latent (one downsampler per down block but the last). */
    public int numDownsamplers() {
        return blockOutChannels.length - 1;
    }

    @Override
    public String toString() {
        return "UNetConfig[" + source + ", blocks " + Arrays.toString(blockOutChannels) + ", heads "
                + Arrays.toString(numAttentionHeads) + ", cross " + Arrays.toString(crossAttentionDim)
                + (useLinearProjection ? ", linear proj" : "") + (upcastAttention ? ", upcast" : "") + "]";
    }
}
