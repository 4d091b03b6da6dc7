package dev.sdcfg.model.unet;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import dev.sdcfg.testutil.SafetensorsWriter;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * Writes a diffusers-layout UNet folder (config.json + random weights) for tests. The key list is derived here from
 * diffusers' module structure independently of the model code, so a structural mistake on either side shows up
 * as a missing or unused tensor.
 */
final class TinyUNetFolder {

    int inChannels = 4;
    int outChannels = 4;
    int[] blockOutChannels = {16, 32, 48, 48};
    String[] downTypes = {"CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"};
    String[] upTypes = {"UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"};
    /** Heads per block (diffusers' legacy attention_head_dim); written as a list. */
    int[] attentionHeadDim = {1, 2, 3, 3};
    int layersPerBlock = 2;
    int transformerLayersPerBlock = 1;
    /** Per-down-block lists; when set they are written as lists and override the ints above. */
    int[] layersPerBlockList;
    int[] transformerLayersList;
    int convInKernel = 3;
    int convOutKernel = 3;
    int crossAttentionDim = 24;
    int normNumGroups = 8;
    boolean useLinearProjection = true;
    boolean upcastAttention = true;
    int sampleSize = 16;
    /** resnet_time_scale_shift "scale_shift": time_emb_proj gives scale and shift (twice the channels). */
    boolean scaleShift = false;
    /**
     * Per-attention transformer depths of each down block ([block][layer], written as nested lists) and of each
     * up block (written as reverse_transformer_layers_per_block); both or neither.
     */
    int[][] transformerLayersNested;
    int[][] reverseTransformerLayers;
    /** only_cross_attention per down block (written as a list); up block i uses entry n−1−i. */
    boolean[] onlyCrossAttention;
    /** "UNetMidBlock2DCrossAttn", "UNetMidBlock2D", or null for no mid block. */
    String midBlockType = "UNetMidBlock2DCrossAttn";
    /** encoder_hid_dim (text_proj) when > 0. */
    int encoderHidDim = 0;
    /** Extra or overriding config entries. */
    final Map<String, Object> extra = new LinkedHashMap<>();

    /** SD 2.x style: linear projections, list-valued attention_head_dim, upcast attention. */
    static TinyUNetFolder sd2Style() {
        return new TinyUNetFolder();
    }

    Map<String, Object> config() {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("_class_name", "UNet2DConditionModel");
        c.put("_diffusers_version", "0.40.0.dev0");
        c.put("act_fn", "silu");
        c.put("attention_head_dim", attentionHeadDim);
        c.put("block_out_channels", blockOutChannels);
        c.put("center_input_sample", false);
        c.put("cross_attention_dim", crossAttentionDim);
        c.put("down_block_types", downTypes);
        c.put("downsample_padding", 1);
        c.put("dual_cross_attention", false);
        c.put("flip_sin_to_cos", true);
        c.put("freq_shift", 0);
        c.put("in_channels", inChannels);
        c.put("layers_per_block", layersPerBlockList != null ? layersPerBlockList : layersPerBlock);
        c.put("conv_in_kernel", convInKernel);
        c.put("conv_out_kernel", convOutKernel);
        c.put("mid_block_scale_factor", 1);
        c.put("norm_eps", 1e-5);
        c.put("norm_num_groups", normNumGroups);
        c.put("num_class_embeds", null);
        c.put("only_cross_attention", onlyCrossAttention != null ? onlyCrossAttention : false);
        c.put("mid_block_type", midBlockType);
        if (encoderHidDim > 0) {
            c.put("encoder_hid_dim", encoderHidDim);
        }
        if (reverseTransformerLayers != null) {
            c.put("reverse_transformer_layers_per_block", reverseTransformerLayers);
        }
        c.put("out_channels", outChannels);
        c.put("sample_size", sampleSize);
        c.put("transformer_layers_per_block", transformerLayersNested != null ? transformerLayersNested
                : transformerLayersList != null ? transformerLayersList : transformerLayersPerBlock);
        c.put("up_block_types", upTypes);
        c.put("upcast_attention", upcastAttention);
        c.put("use_linear_projection", useLinearProjection);
        c.put("resnet_time_scale_shift", scaleShift ? "scale_shift" : "default");
        c.putAll(extra);
        return c;
    }

    /** Checkpoint keys and shapes, following diffusers' module structure. */
    Map<String, long[]> shapes() {
        Map<String, long[]> m = new LinkedHashMap<>();
        int n = blockOutChannels.length;
        long c0 = blockOutChannels[0];
        long temb = 4 * c0;
        conv(m, "conv_in", inChannels, c0, convInKernel);
        linear(m, "time_embedding.linear_1", c0, temb);
        linear(m, "time_embedding.linear_2", temb, temb);
        if (encoderHidDim > 0) {
            linear(m, "encoder_hid_proj", encoderHidDim, crossAttentionDim);
        }
        long out = c0;
        for (int i = 0; i < n; i++) {
            long in = out;
            out = blockOutChannels[i];
            String p = "down_blocks." + i + ".";
            for (int j = 0; j < layers(i); j++) {
                resnet(m, p + "resnets." + j, j == 0 ? in : out, out, temb);
                if (downTypes[i].startsWith("CrossAttn")) {
                    transformer(m, p + "attentions." + j, out,
                            transformerLayersNested != null ? transformerLayersNested[i][j] : tLayers(i), onlyCross(i));
                }
            }
            if (i < n - 1) {
                conv(m, p + "downsamplers.0.conv", out, out, 3);
            }
        }
        long mid = blockOutChannels[n - 1];
        if (midBlockType != null) {
            // get_mid_block: UNetMidBlock2DCrossAttn has resnet, attention, resnet; UNetMidBlock2D (num_layers=0)
            // only its first resnet. The cross-attn mid block never uses only_cross_attention.
            resnet(m, "mid_block.resnets.0", mid, mid, temb);
            if (midBlockType.equals("UNetMidBlock2DCrossAttn")) {
                transformer(m, "mid_block.attentions.0", mid,
                        transformerLayersNested != null ? transformerLayersNested[n - 1][0] : tLayers(n - 1), false);
                resnet(m, "mid_block.resnets.1", mid, mid, temb);
            }
        }
        out = mid;
        for (int i = 0; i < n; i++) {
            long prev = out;
            out = blockOutChannels[n - 1 - i];
            long in = blockOutChannels[Math.max(n - 2 - i, 0)];
            String p = "up_blocks." + i + ".";
            int layers = layers(n - 1 - i) + 1;
            for (int j = 0; j < layers; j++) {
                long skip = j == layers - 1 ? in : out;
                resnet(m, p + "resnets." + j, (j == 0 ? prev : out) + skip, out, temb);
                if (upTypes[i].startsWith("CrossAttn")) {
                    transformer(m, p + "attentions." + j, out,
                            reverseTransformerLayers != null ? reverseTransformerLayers[i][j] : tLayers(n - 1 - i),
                            onlyCross(n - 1 - i));
                }
            }
            if (i < n - 1) {
                conv(m, p + "upsamplers.0.conv", out, out, 3);
            }
        }
        norm(m, "conv_norm_out", c0);
        conv(m, "conv_out", c0, outChannels, convOutKernel);
        return m;
    }

    private int layers(int block) {
        return layersPerBlockList != null ? layersPerBlockList[block] : layersPerBlock;
    }

    private int tLayers(int block) {
        return transformerLayersList != null ? transformerLayersList[block] : transformerLayersPerBlock;
    }

    private boolean onlyCross(int block) {
        return onlyCrossAttention != null && onlyCrossAttention[block];
    }

    void transformer(Map<String, long[]> m, String p, long ch, int transformerLayers) {
        transformer(m, p, ch, transformerLayers, false);
    }

    /** @param onlyCross diffusers' only_cross_attention: attn1's k/v project from the context width */
    void transformer(Map<String, long[]> m, String p, long ch, int transformerLayers, boolean onlyCross) {
        norm(m, p + ".norm", ch);
        if (useLinearProjection) {
            linear(m, p + ".proj_in", ch, ch);
        } else {
            conv(m, p + ".proj_in", ch, ch, 1);
        }
        for (int k = 0; k < transformerLayers; k++) {
            String b = p + ".transformer_blocks." + k + ".";
            norm(m, b + "norm1", ch);
            attention(m, b + "attn1", ch, onlyCross ? crossAttentionDim : ch);
            norm(m, b + "norm2", ch);
            attention(m, b + "attn2", ch, crossAttentionDim);
            norm(m, b + "norm3", ch);
            linear(m, b + "ff.net.0.proj", ch, 8 * ch);
            linear(m, b + "ff.net.2", 4 * ch, ch);
        }
        if (useLinearProjection) {
            linear(m, p + ".proj_out", ch, ch);
        } else {
            conv(m, p + ".proj_out", ch, ch, 1);
        }
    }

    private static void attention(Map<String, long[]> m, String p, long dim, long ctx) {
        m.put(p + ".to_q.weight", new long[] {dim, dim});
        m.put(p + ".to_k.weight", new long[] {dim, ctx});
        m.put(p + ".to_v.weight", new long[] {dim, ctx});
        linear(m, p + ".to_out.0", dim, dim);
    }

    private void resnet(Map<String, long[]> m, String p, long in, long out, long temb) {
        norm(m, p + ".norm1", in);
        conv(m, p + ".conv1", in, out, 3);
        linear(m, p + ".time_emb_proj", temb, scaleShift ? 2 * out : out);
        norm(m, p + ".norm2", out);
        conv(m, p + ".conv2", out, out, 3);
        if (in != out) {
            conv(m, p + ".conv_shortcut", in, out, 1);
        }
    }

    private static void conv(Map<String, long[]> m, String p, long in, long out, int k) {
        m.put(p + ".weight", new long[] {out, in, k, k});
        m.put(p + ".bias", new long[] {out});
    }

    private static void linear(Map<String, long[]> m, String p, long in, long out) {
        m.put(p + ".weight", new long[] {out, in});
        m.put(p + ".bias", new long[] {out});
    }

    private static void norm(Map<String, long[]> m, String p, long ch) {
        m.put(p + ".weight", new long[] {ch});
        m.put(p + ".bias", new long[] {ch});
    }

    /** Writes config.json and diffusion_pytorch_model.safetensors into {@code dir}; returns the number of tensors. */
    int write(Path dir, long seed) throws IOException {
        Files.createDirectories(dir);
        Gson gson = new GsonBuilder().serializeNulls().setPrettyPrinting().create();
        Files.writeString(dir.resolve("config.json"), gson.toJson(config()), StandardCharsets.UTF_8);
        Map<String, long[]> shapes = shapes();
        writeRandom(shapes, dir.resolve("diffusion_pytorch_model.safetensors"), seed);
        return shapes.size();
    }

    /** Random weights for {@code shapes}: N(0, 1/fan_in) weights, N(1, 0.1) norm scales, N(0, 0.05) biases. */
    static void writeRandom(Map<String, long[]> shapes, Path file, long seed) throws IOException {
        Random rnd = new Random(seed);
        SafetensorsWriter w = new SafetensorsWriter();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long[] s = e.getValue();
            int numel = 1;
            for (long d : s) {
                numel *= (int) d;
            }
            float[] v = new float[numel];
            String k = e.getKey();
            boolean isNorm = k.contains("norm") && !k.contains("proj");
            double std;
            double mean = 0;
            if (k.endsWith(".bias")) {
                std = 0.05;
            } else if (isNorm) {
                mean = 1;
                std = 0.1;
            } else {
                long fanIn = numel / s[0];
                std = 1.0 / Math.sqrt(fanIn);
            }
            for (int i = 0; i < numel; i++) {
                v[i] = (float) (mean + std * rnd.nextGaussian());
            }
            w.put(k, s, v);
        }
        w.write(file);
    }
}
