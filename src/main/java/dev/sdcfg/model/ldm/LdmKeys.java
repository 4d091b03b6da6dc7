package dev.sdcfg.model.ldm;

import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.io.Safetensors;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Key names of the original (LDM / CompVis, A1111, Civitai) single-file layout → diffusers names, one rule per key,
 * as diffusers' {@code single_file_utils.convert_ldm_unet_checkpoint}, {@code convert_ldm_vae_checkpoint} and
 * {@code convert_ldm_clip_checkpoint} rename them. The returned maps go diffusers key → stored key, the form
 * {@link dev.sdcfg.model.io.Weights#renamed} takes. A stored key no rule covers is kept under its own name, so the
 * model's {@code requireAllUsed} reports it by name instead of it being dropped silently.
 *
 * <p>The tensors themselves are never changed: the VAE's mid-block attention q/k/v/proj_out are 1×1 convs
 * ([C, C, 1, 1]) in LDM files and linears ([C, C]) in diffusers, and {@code Weights.get} reshapes trailing
 * singleton dimensions (the same bytes, as diffusers' {@code [:, :, 0, 0]}).
 */
public final class LdmKeys {

    public static final String UNET_PREFIX = "model.diffusion_model.";
    /** The VAE prefixes diffusers accepts ({@code LDM_VAE_KEYS}). */
    public static final String[] VAE_PREFIXES = {"first_stage_model.", "vae."};
    /** SD 1.x: transformers' CLIPTextModel under this prefix. */
    public static final String CLIP_PREFIX = "cond_stage_model.transformer.";
    /** SD 2.x: OpenCLIP's text tower under this prefix. */
    public static final String OPEN_CLIP_PREFIX = "cond_stage_model.model.";
    /** SDXL: the first text encoder (transformers' CLIP ViT-L, as SD 1.x's) under this prefix. */
    public static final String SDXL_CLIP_PREFIX = "conditioner.embedders.0.transformer.";
    /** SDXL: the second text encoder (OpenCLIP ViT-bigG, every layer and text_projection) under this prefix. */
    public static final String SDXL_OPEN_CLIP_PREFIX = "conditioner.embedders.1.model.";

    private LdmKeys() {
    }

    /** Resnet sub-module names, LDM → diffusers ({@code update_unet_resnet_ldm_to_diffusers}). */
    private static String unetResnet(String rest) {
        return rest.replace("in_layers.0", "norm1").replace("in_layers.2", "conv1")
                .replace("out_layers.0", "norm2").replace("out_layers.3", "conv2")
                .replace("emb_layers.1", "time_emb_proj").replace("skip_connection", "conv_shortcut");
    }

    private static final Map<String, String> UNET_TOP = Map.of(
            "time_embed.0.", "time_embedding.linear_1.",
            "time_embed.2.", "time_embedding.linear_2.",
            "input_blocks.0.0.", "conv_in.",
            "out.0.", "conv_norm_out.",
            "out.2.", "conv_out.",
            // SDXL's text_time embedding (diffusers' DIFFUSERS_TO_LDM_MAPPING["unet"]["addition_embed_type"])
            "label_emb.0.0.", "add_embedding.linear_1.",
            "label_emb.0.2.", "add_embedding.linear_2.");

    private static final Pattern BLOCK = Pattern.compile("^(input_blocks|output_blocks)\\.(\\d+)\\.(\\d+)\\.(.*)$");
    private static final Pattern MIDDLE = Pattern.compile("^middle_block\\.(\\d+)\\.(.*)$");

    /** The UNet's stored keys (prefix included) in {@code keys}. */
    public static Set<String> unetKeys(Set<String> keys) {
        Set<String> out = new TreeSet<>();
        for (String k : keys) {
            if (k.startsWith(UNET_PREFIX)) {
                out.add(k);
            }
        }
        return out;
    }

    /** Number of resolution levels: one more than the downsamplers ({@code input_blocks.N.0.op}). */
    static int unetLevels(Set<String> unetKeys) {
        int ops = 0;
        for (String k : unetKeys) {
            if (k.startsWith(UNET_PREFIX + "input_blocks.") && k.endsWith(".0.op.weight")) {
                ops++;
            }
        }
        return ops + 1;
    }

    /** Distinct {@code input_blocks.N} (N = 0 is conv_in). */
    static int inputBlockCount(Set<String> unetKeys) {
        Set<Integer> ns = new TreeSet<>();
        Pattern p = Pattern.compile("^" + Pattern.quote(UNET_PREFIX) + "input_blocks\\.(\\d+)\\.");
        for (String k : unetKeys) {
            Matcher m = p.matcher(k);
            if (m.find()) {
                ns.add(Integer.parseInt(m.group(1)));
            }
        }
        return ns.size();
    }

    /**
     * Resnets per down block: the input blocks are conv_in, then per level {@code layers} resnets and (except at
     * the last level) a downsampler, so their count is levels × (layers + 1).
     */
    static int layersPerBlock(Path file, Set<String> unetKeys) {
        int levels = unetLevels(unetKeys);
        int n = inputBlockCount(unetKeys);
        if (n == 0 || n % levels != 0) {
            throw new ModelLoadException(file + ": " + n + " UNet input blocks do not divide into " + levels
                    + " levels (keys " + UNET_PREFIX + "input_blocks.*)");
        }
        return n / levels - 1;
    }

    /** diffusers key → stored key for every stored UNet key. */
    public static Map<String, String> unet(Path file, Set<String> keys) {
        Set<String> unetKeys = unetKeys(keys);
        int per = layersPerBlock(file, unetKeys) + 1;
        Map<String, String> out = new LinkedHashMap<>();
        for (String stored : unetKeys) {
            String k = stored.substring(UNET_PREFIX.length());
            String d = null;
            for (Map.Entry<String, String> e : UNET_TOP.entrySet()) {
                if (k.startsWith(e.getKey())) {
                    d = e.getValue() + k.substring(e.getKey().length());
                }
            }
            Matcher m = BLOCK.matcher(k);
            Matcher mid = MIDDLE.matcher(k);
            if (d == null && mid.matches()) {
                // resnet, transformer, resnet (diffusers: even index → resnets.max(n - 1, 0), odd → attentions)
                int n = Integer.parseInt(mid.group(1));
                d = n % 2 == 0 ? "mid_block.resnets." + (n / 2) + "." + unetResnet(mid.group(2))
                        : "mid_block.attentions." + (n / 2) + "." + mid.group(2);
            } else if (d == null && m.matches()) {
                int n = Integer.parseInt(m.group(2));
                int sub = Integer.parseInt(m.group(3));
                String rest = m.group(4);
                if ("input_blocks".equals(m.group(1))) {
                    int block = (n - 1) / per;
                    int layer = (n - 1) % per;
                    if (sub == 0 && rest.startsWith("op.")) {
                        d = "down_blocks." + block + ".downsamplers.0.conv." + rest.substring(3);
                    } else if (sub == 0) {
                        d = "down_blocks." + block + ".resnets." + layer + "." + unetResnet(rest);
                    } else if (sub == 1) {
                        d = "down_blocks." + block + ".attentions." + layer + "." + rest;
                    }
                } else {
                    int block = n / per;
                    int layer = n % per;
                    if (sub == 0) {
                        d = "up_blocks." + block + ".resnets." + layer + "." + unetResnet(rest);
                    } else if ((sub == 1 || sub == 2) && rest.startsWith("conv.")) {
                        d = "up_blocks." + block + ".upsamplers.0." + rest;
                    } else if (sub == 1) {
                        d = "up_blocks." + block + ".attentions." + layer + "." + rest;
                    }
                }
            }
            put(out, d == null ? stored : d, stored, file);
        }
        return out;
    }

    /**
     * diffusers UNet key → its LDM (sgm) name, for any depth: the inverse of {@link #unet}'s renaming (checked against
     * diffusers' {@code convert_diffusers_to_original_sdxl.convert_unet_state_dict} by tools/singlefile-goldens'
     * {@code ldm_unet_names}, of which this is a port). kohya trains SDXL LoRAs on the sgm UNet, so their module names
     * ({@code lora_unet_input_blocks_4_1_…}) are these names with {@code _} for {@code .}. Keys outside the UNet's
     * blocks are left out.
     */
    public static Map<String, String> unetToLdm(Set<String> diffusersKeys) {
        int layers = 0;
        Set<Integer> upWithAttention = new TreeSet<>();
        Pattern res = Pattern.compile("^down_blocks\\.0\\.resnets\\.(\\d+)\\.");
        Pattern upAttn = Pattern.compile("^up_blocks\\.(\\d+)\\.attentions\\.");
        for (String k : diffusersKeys) {
            Matcher m = res.matcher(k);
            if (m.find()) {
                layers = Math.max(layers, Integer.parseInt(m.group(1)) + 1);
            }
            Matcher a = upAttn.matcher(k);
            if (a.find()) {
                upWithAttention.add(Integer.parseInt(a.group(1)));
            }
        }
        Map<String, String> top = Map.of("time_embedding.linear_1.", "time_embed.0.",
                "time_embedding.linear_2.", "time_embed.2.", "conv_in.", "input_blocks.0.0.",
                "conv_norm_out.", "out.0.", "conv_out.", "out.2.",
                "add_embedding.linear_1.", "label_emb.0.0.", "add_embedding.linear_2.", "label_emb.0.2.");
        Map<String, String> out = new LinkedHashMap<>();
        for (String k : diffusersKeys) {
            String[] p = k.split("\\.");
            String d = null;
            for (Map.Entry<String, String> e : top.entrySet()) {
                if (k.startsWith(e.getKey())) {
                    d = e.getValue() + k.substring(e.getKey().length());
                }
            }
            if (p.length > 4 && (p[0].equals("down_blocks") || p[0].equals("up_blocks"))) {
                int i = Integer.parseInt(p[1]);
                int j = Integer.parseInt(p[3]);
                String rest = String.join(".", java.util.Arrays.copyOfRange(p, 4, p.length));
                boolean down = p[0].equals("down_blocks");
                int n = down ? (layers + 1) * i + j + 1 : (layers + 1) * i + j;
                d = switch (p[2]) {
                    case "resnets" -> (down ? "input_blocks." : "output_blocks.") + n + ".0." + ldmResnet(rest);
                    case "attentions" -> (down ? "input_blocks." : "output_blocks.") + n + ".1." + rest;
                    case "downsamplers" -> "input_blocks." + ((layers + 1) * (i + 1)) + ".0.op."
                            + rest.substring(rest.indexOf('.') + 1); // conv.weight → weight
                    case "upsamplers" -> "output_blocks." + ((layers + 1) * i + layers) + "."
                            + (upWithAttention.contains(i) ? 2 : 1) + "." + rest;
                    default -> null;
                };
            } else if (p.length > 3 && p[0].equals("mid_block")) {
                int j = Integer.parseInt(p[2]);
                String rest = String.join(".", java.util.Arrays.copyOfRange(p, 3, p.length));
                d = p[1].equals("resnets") ? "middle_block." + (2 * j) + "." + ldmResnet(rest) : "middle_block.1." + rest;
            }
            if (d != null) {
                out.put(k, d);
            }
        }
        return out;
    }

    /** Resnet sub-module names, diffusers → LDM (the reverse of {@link #unetResnet}). */
    private static String ldmResnet(String rest) {
        return rest.replace("norm1", "in_layers.0").replace("conv1", "in_layers.2")
                .replace("norm2", "out_layers.0").replace("conv2", "out_layers.3")
                .replace("time_emb_proj", "emb_layers.1").replace("conv_shortcut", "skip_connection");
    }

    /** The VAE prefix this file uses (diffusers takes the last one any key starts with), or null. */
    public static String vaePrefix(Set<String> keys) {
        String found = null;
        for (String p : VAE_PREFIXES) {
            for (String k : keys) {
                if (k.startsWith(p)) {
                    found = p;
                    break;
                }
            }
        }
        return found;
    }

    private static final Pattern VAE_DOWN = Pattern.compile("^encoder\\.down\\.(\\d+)\\.(block|downsample)\\.(.*)$");
    private static final Pattern VAE_UP = Pattern.compile("^decoder\\.up\\.(\\d+)\\.(block|upsample)\\.(.*)$");
    private static final Pattern VAE_MID = Pattern.compile("^(encoder|decoder)\\.mid\\.(block_(\\d+)|attn_1)\\.(.*)$");

    /** diffusers key → stored key for every stored VAE key. */
    public static Map<String, String> vae(Path file, Set<String> keys) {
        String prefix = vaePrefix(keys);
        if (prefix == null) {
            throw new ModelLoadException(file + ": no VAE weights (keys first_stage_model.*)");
        }
        int levels = 0;
        for (String k : keys) {
            Matcher m = VAE_UP.matcher(k.startsWith(prefix) ? k.substring(prefix.length()) : "");
            if (m.matches()) {
                levels = Math.max(levels, Integer.parseInt(m.group(1)) + 1);
            }
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (String stored : new TreeSet<>(keys)) {
            if (!stored.startsWith(prefix)) {
                continue;
            }
            String k = stored.substring(prefix.length());
            String d;
            Matcher down = VAE_DOWN.matcher(k);
            Matcher up = VAE_UP.matcher(k);
            Matcher mid = VAE_MID.matcher(k);
            if (down.matches()) {
                d = "encoder.down_blocks." + down.group(1) + (down.group(2).equals("block")
                        ? ".resnets." + down.group(3).replace("nin_shortcut", "conv_shortcut")
                        : ".downsamplers.0." + down.group(3));
            } else if (up.matches()) {
                int block = levels - 1 - Integer.parseInt(up.group(1));
                d = "decoder.up_blocks." + block + (up.group(2).equals("block")
                        ? ".resnets." + up.group(3).replace("nin_shortcut", "conv_shortcut")
                        : ".upsamplers.0." + up.group(3));
            } else if (mid.matches() && mid.group(3) != null) {
                d = mid.group(1) + ".mid_block.resnets." + (Integer.parseInt(mid.group(3)) - 1) + "."
                        + mid.group(4).replace("nin_shortcut", "conv_shortcut");
            } else if (mid.matches()) {
                d = mid.group(1) + ".mid_block.attentions.0." + vaeAttention(mid.group(4));
            } else {
                d = k.replace("encoder.norm_out.", "encoder.conv_norm_out.")
                        .replace("decoder.norm_out.", "decoder.conv_norm_out.");
            }
            put(out, d, stored, file);
        }
        return out;
    }

    private static String vaeAttention(String rest) {
        return switch (rest) {
            case "norm.weight", "norm.bias" -> "group_norm." + rest.substring(5);
            case "q.weight", "q.bias", "k.weight", "k.bias", "v.weight", "v.bias" -> "to_" + rest;
            case "proj_out.weight", "proj_out.bias" -> "to_out.0." + rest.substring(9);
            default -> rest;
        };
    }

    /** diffusers (transformers) key → stored key for the SD 1.x CLIP text encoder. */
    public static Map<String, String> clip(Path file, Set<String> keys) {
        return clip(file, keys, CLIP_PREFIX);
    }

    /**
     * diffusers (transformers) key → stored key for a transformers CLIP text encoder stored under {@code prefix}
     * (SD 1.x's, SDXL's first): the prefix removed, as diffusers' {@code convert_ldm_clip_checkpoint} does.
     */
    public static Map<String, String> clip(Path file, Set<String> keys, String prefix) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String stored : new TreeSet<>(keys)) {
            if (stored.startsWith(prefix)) {
                put(out, stored.substring(prefix.length()), stored, file);
            }
        }
        if (out.isEmpty()) {
            throw new ModelLoadException(file + ": no text encoder weights (keys " + prefix + "*)");
        }
        return out;
    }

    /** A text encoder's diffusers key → stored key, and the keys that read part of a stored tensor. */
    public record TextKeys(Map<String, String> keys, Map<String, Safetensors.Cut> cuts) {
    }

    private static final Pattern RESBLOCK = Pattern.compile("^transformer\\.resblocks\\.(\\d+)\\.(.*)$");

    /** OpenCLIP resblock sub-module → transformers CLIP layer sub-module ({@code DIFFUSERS_TO_LDM_MAPPING["openclip"]}). */
    private static final Map<String, String> OPEN_CLIP_LAYER = Map.of(
            "ln_1.", "layer_norm1.",
            "ln_2.", "layer_norm2.",
            "mlp.c_fc.", "mlp.fc1.",
            "mlp.c_proj.", "mlp.fc2.",
            "attn.out_proj.", "self_attn.out_proj.");

    /**
     * diffusers (transformers) key → stored key for an OpenCLIP text tower under {@code prefix}, as diffusers'
     * {@code single_file_utils.convert_open_clip_checkpoint} renames it: {@code token_embedding},
     * {@code positional_embedding}, {@code ln_final}, and per {@code transformer.resblocks.N} the layer norms, MLP and
     * {@code attn.out_proj}; the fused {@code attn.in_proj_weight}/{@code in_proj_bias} ([3·width, …]) are read as
     * {@code self_attn.q_proj}, {@code k_proj} and {@code v_proj}, a third each in that order
     * ({@link Safetensors.Cut#rows}).
     *
     * @param dropLastLayer SD 2.x: its embedder runs OpenCLIP up to the penultimate layer, so the last resblock is
     *                      not part of the diffusers text encoder (diffusers drops it through
     *                      {@code SD_2_TEXT_ENCODER_KEYS_TO_IGNORE}, which names resblocks.23, the last of ViT-H/14's
     *                      24; here, whatever the depth, the last), nor is {@code text_projection}: both stay unread
     * @param projection    SDXL's second encoder (CLIPTextModelWithProjection): {@code text_projection} ([width,
     *                      dim] in OpenCLIP) is read transposed as {@code text_projection.weight}
     */
    public static TextKeys openClip(Path file, Set<String> keys, Function<String, long[]> shape, String prefix,
                                    boolean dropLastLayer, boolean projection) {
        int last = -1;
        for (String k : keys) {
            Matcher m = k.startsWith(prefix) ? RESBLOCK.matcher(k.substring(prefix.length())) : null;
            if (m != null && m.matches()) {
                last = Math.max(last, Integer.parseInt(m.group(1)));
            }
        }
        if (last < 0 || (dropLastLayer && last == 0)) {
            throw new ModelLoadException(file + ": no OpenCLIP text layers (keys " + prefix + "transformer.resblocks.N.*)");
        }
        Map<String, String> out = new LinkedHashMap<>();
        Map<String, Safetensors.Cut> cuts = new LinkedHashMap<>();
        for (String stored : new TreeSet<>(keys)) {
            if (!stored.startsWith(prefix)) {
                continue;
            }
            String k = stored.substring(prefix.length());
            Matcher m = RESBLOCK.matcher(k);
            String d = switch (k) {
                case "token_embedding.weight" -> "text_model.embeddings.token_embedding.weight";
                case "positional_embedding" -> "text_model.embeddings.position_embedding.weight";
                case "ln_final.weight", "ln_final.bias" -> "text_model.final_layer_norm." + k.substring(9);
                default -> null;
            };
            if (k.equals("text_projection") || k.equals("logit_scale")) {
                // logit_scale is CLIP's contrastive temperature, never used for conditioning
                if (k.equals("text_projection") && projection) {
                    put(out, "text_projection.weight", stored, file);
                    cuts.put("text_projection.weight", Safetensors.Cut.transposed());
                }
                continue;
            }
            if (d == null && m.matches()) {
                int n = Integer.parseInt(m.group(1));
                if (dropLastLayer && n == last) {
                    continue;
                }
                String layer = "text_model.encoder.layers." + n + ".";
                String rest = m.group(2);
                if (rest.equals("attn.in_proj_weight") || rest.equals("attn.in_proj_bias")) {
                    long rows = shape.apply(stored)[0];
                    if (rows % 3 != 0) {
                        throw new ModelLoadException(file + ": tensor '" + stored + "' has " + rows
                                + " rows, not 3 × width (fused q, k, v)");
                    }
                    String p = rest.endsWith("weight") ? "weight" : "bias";
                    String[] qkv = {"q", "k", "v"};
                    for (int i = 0; i < 3; i++) {
                        String name = layer + "self_attn." + qkv[i] + "_proj." + p;
                        put(out, name, stored, file);
                        cuts.put(name, Safetensors.Cut.rows(i * rows / 3, (i + 1) * rows / 3));
                    }
                    continue;
                }
                for (Map.Entry<String, String> e : OPEN_CLIP_LAYER.entrySet()) {
                    if (rest.startsWith(e.getKey())) {
                        d = layer + e.getValue() + rest.substring(e.getKey().length());
                    }
                }
            }
            put(out, d == null ? stored : d, stored, file);
        }
        return new TextKeys(out, cuts);
    }

    /** Two stored tensors for one diffusers key is an error (one stored tensor may answer several: a fused q/k/v). */
    private static void put(Map<String, String> out, String diffusers, String stored, Path file) {
        String prev = out.putIfAbsent(diffusers, stored);
        if (prev != null) {
            throw new ModelLoadException(file + ": tensors '" + prev + "' and '" + stored + "' both map to '"
                    + diffusers + "'");
        }
    }
}
