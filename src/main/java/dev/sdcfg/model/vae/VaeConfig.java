package dev.sdcfg.model.vae;

import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.config.JsonConfig;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

/**
 * The {@code vae/config.json} of a diffusers {@code AutoencoderKL}, with diffusers' defaults for absent keys and
 * a {@link ModelLoadException} naming file and key for any value this runtime does not implement.
 *
 * @param source            the config file (for messages)
 * @param inChannels        image channels into the encoder
 * @param outChannels       image channels out of the decoder
 * @param latentChannels    latent channels (the encoder emits twice as many: mean and logvar)
 * @param blockOutChannels  channels per resolution level, from the highest resolution down
 * @param layersPerBlock    resnets per encoder down block (the decoder's up blocks have one more)
 * @param normNumGroups     GroupNorm groups everywhere
 * @param scalingFactor     latents are multiplied by this after encoding / divided by it before decoding
 * @param shiftFactor       subtracted before scaling when encoding / added after unscaling when decoding; 0 when absent
 * @param hasShiftFactor    whether the config sets {@code shift_factor}
 * @param latentsMean       per-channel latent mean (SDXL-style pipelines), or null
 * @param latentsStd        per-channel latent std, or null
 * @param forceUpcast       diffusers runs this VAE in float32 even when the pipeline is float16
 * @param useQuantConv      whether a 1×1 {@code quant_conv} follows the encoder
 * @param usePostQuantConv  whether a 1×1 {@code post_quant_conv} precedes the decoder
 * @param midBlockAddAttention whether the encoder's and decoder's mid blocks hold a self-attention
 */
public record VaeConfig(String source, int inChannels, int outChannels, int latentChannels, int[] blockOutChannels,
                        int layersPerBlock, int normNumGroups, double scalingFactor, double shiftFactor,
                        boolean hasShiftFactor, double[] latentsMean, double[] latentsStd, boolean forceUpcast,
                        boolean useQuantConv, boolean usePostQuantConv, boolean midBlockAddAttention) {

    static final String DOWN_BLOCK = "DownEncoderBlock2D";
    static final String UP_BLOCK = "UpDecoderBlock2D";

    public static VaeConfig read(Path configFile) {
        return from(JsonConfig.read(configFile));
    }

    public static VaeConfig from(JsonConfig c) {
        String src = c.source();
        String cls = c.getString("_class_name", "AutoencoderKL");
        if (!"AutoencoderKL".equals(cls)) {
            throw new ModelLoadException(src + ": unsupported value '" + cls + "' for '_class_name'"
                    + " (supported: AutoencoderKL)");
        }
        warnUnknownKeys(c);
        for (String k : NULL_REFUSED) {
            if (c.isNull(k)) {
                throw new ModelLoadException(src + ": unsupported value null for '" + k + "' (diffusers cannot build"
                        + " an AutoencoderKL with " + k + "=None)");
            }
        }
        int[] blocks = c.getIntArray("block_out_channels", new int[] {64});
        if (blocks.length == 0) {
            throw new ModelLoadException(src + ": 'block_out_channels' must not be empty");
        }
        int groups = c.getInt("norm_num_groups", 32);
        positive(src, "norm_num_groups", groups);
        for (int ch : blocks) {
            positive(src, "block_out_channels", ch);
            if (ch % groups != 0) {
                throw new ModelLoadException(src + ": 'block_out_channels' entry " + ch
                        + " is not divisible by 'norm_num_groups' " + groups);
            }
        }
        requireBlockTypes(c, "down_block_types", DOWN_BLOCK, blocks.length);
        requireBlockTypes(c, "up_block_types", UP_BLOCK, blocks.length);
        c.getEnum("act_fn", "silu", "silu", "swish");
        int in = c.getInt("in_channels", 3);
        int out = c.getInt("out_channels", 3);
        int latent = c.getInt("latent_channels", 4);
        int layers = c.getInt("layers_per_block", 1);
        positive(src, "in_channels", in);
        positive(src, "out_channels", out);
        positive(src, "latent_channels", latent);
        positive(src, "layers_per_block", layers);
        double scaling = c.getDouble("scaling_factor", 0.18215);
        if (!(scaling > 0) || Double.isInfinite(scaling)) {
            throw new ModelLoadException(src + ": 'scaling_factor' must be a positive number, got " + scaling);
        }
        boolean hasShift = c.has("shift_factor");
        double shift = c.getDouble("shift_factor", 0.0);
        double[] mean = c.getDoubleArray("latents_mean");
        double[] std = c.getDoubleArray("latents_std");
        for (var e : List.of(new Object[] {"latents_mean", mean}, new Object[] {"latents_std", std})) {
            double[] v = (double[]) e[1];
            if (v != null && v.length != latent) {
                throw new ModelLoadException(src + ": '" + e[0] + "' has " + v.length + " entries, expected "
                        + latent + " ('latent_channels')");
            }
        }
        // An explicit null reaches diffusers as None, which its `if flag:` tests read as false.
        return new VaeConfig(src, in, out, latent, blocks, layers, groups, scaling, shift, hasShift, mean, std,
                c.getPyBool("force_upcast", true), c.getPyBool("use_quant_conv", true),
                c.getPyBool("use_post_quant_conv", true), c.getPyBool("mid_block_add_attention", true));
    }

    /** Keys whose explicit null diffusers cannot build (or decode) with. */
    private static final List<String> NULL_REFUSED = List.of("in_channels", "out_channels", "down_block_types",
            "up_block_types", "block_out_channels", "layers_per_block", "act_fn", "latent_channels",
            "norm_num_groups", "scaling_factor");

    /** Every key of diffusers' AutoencoderKL.__init__; others are ignored by diffusers with a warning, and here. */
    static final java.util.Set<String> KNOWN_KEYS = java.util.Set.of("in_channels", "out_channels",
            "down_block_types", "up_block_types", "block_out_channels", "layers_per_block", "act_fn",
            "latent_channels", "norm_num_groups", "sample_size", "scaling_factor", "shift_factor", "latents_mean",
            "latents_std", "force_upcast", "use_quant_conv", "use_post_quant_conv", "mid_block_add_attention");

    private static void warnUnknownKeys(JsonConfig c) {
        List<String> unknown = c.json().keySet().stream().filter(k -> !k.startsWith("_") && !KNOWN_KEYS.contains(k))
                .toList();
        if (!unknown.isEmpty()) {
            System.getLogger(VaeConfig.class.getName()).log(System.Logger.Level.WARNING,
                    "{0}: config keys {1} are not AutoencoderKL parameters and are ignored (as diffusers ignores"
                            + " them)", c.source(), unknown);
        }
    }

    private static void requireBlockTypes(JsonConfig c, String key, String supported, int n) {
        List<String> types = c.getStringList(key);
        if (types == null) {
            types = List.of(supported); // diffusers' default is a single block
        }
        if (types.size() != n) {
            throw new ModelLoadException(c.source() + ": '" + key + "' has " + types.size()
                    + " entries but 'block_out_channels' has " + n);
        }
        for (String t : types) {
            if (!supported.equals(t)) {
                throw new ModelLoadException(c.source() + ": unsupported value '" + t + "' in '" + key
                        + "' (supported: " + supported + ")");
            }
        }
    }

    private static void positive(String src, String key, int v) {
        if (v <= 0) {
            throw new ModelLoadException(src + ": '" + key + "' must be positive, got " + v);
        }
    }

    /** How many pixels one latent cell spans per side: 2^(levels − 1) (8 for Stable Diffusion). */
    public int downscaleFactor() {
        return 1 << (blockOutChannels.length - 1);
    }

    @Override
    public String toString() {
        return "VaeConfig[" + source + ", blocks " + Arrays.toString(blockOutChannels) + ", layers " + layersPerBlock
                + ", groups " + normNumGroups + ", latent " + latentChannels + ", scaling " + scalingFactor
                + (hasShiftFactor ? ", shift " + shiftFactor : "") + "]";
    }
}
