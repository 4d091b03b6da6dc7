package dev.sdcfg.bench;

import dev.sdcfg.model.config.JsonConfig;

import java.util.Locale;

/**
 * Model configs for benchmarking with random weights (no download needed): {@code sd15} has Stable Diffusion
 * 1.5's exact shapes; {@code mid} keeps SD1.5's structure (CLIP-L text encoder, 768-wide cross attention, 32
 * GroupNorm groups) with narrower UNet/VAE channels so a CPU can run it in seconds. {@code sdxl} has SDXL base
 * 1.0's exact shapes (CLIP-L + OpenCLIP bigG text encoders, the 2.6 B-parameter text_time UNet, SDXL's VAE: about
 * 14 GB of fp32 weights); {@code sdxl-mid} keeps SDXL's UNet structure (DownBlock2D first, transformer depths
 * [1, 2, 10], head width 64, cross attention 2048, text_time conditioning) with channels [64, 128, 256], and a
 * 4-layer bigG-wide second encoder, so its op count per UNet forward is SDXL's at a fraction of the weights.
 */
final class BenchConfigs {

    private BenchConfigs() {
    }

    /** @param text2 SDXL's second text encoder (CLIPTextModelWithProjection), or null for SD 1.x shapes */
    record Preset(JsonConfig text, JsonConfig unet, JsonConfig vae, int defaultSize, JsonConfig text2) {
        Preset(JsonConfig text, JsonConfig unet, JsonConfig vae, int defaultSize) {
            this(text, unet, vae, defaultSize, null);
        }
    }

    static Preset get(String name) {
        switch (name.toLowerCase(Locale.ROOT)) {
            case "sd15":
                return new Preset(clipL(), unet("[320, 640, 1280, 1280]", 64), vae("[128, 256, 512, 512]", 512), 512);
            case "mid":
                return new Preset(clipL(), unet("[64, 128, 256, 256]", 32), vae("[32, 64, 128, 128]", 256), 256);
            case "sdxl":
                return new Preset(clipL(), sdxlUnet("[320, 640, 1280]", "[5, 10, 20]", 128),
                        sdxlVae("[128, 256, 512, 512]", 1024), 1024, bigG(32));
            case "sdxl-mid":
                return new Preset(clipL(), sdxlUnet("[64, 128, 256]", "[1, 2, 4]", 32),
                        sdxlVae("[32, 64, 128, 128]", 256), 256, bigG(4));
            default:
                throw new IllegalArgumentException("unknown benchmark config '" + name
                        + "' (sd15, mid, sdxl, sdxl-mid)");
        }
    }

    private static JsonConfig clipL() {
        return JsonConfig.parse("clip-vit-large-patch14 text config", "{"
                + "\"hidden_size\": 768, \"intermediate_size\": 3072, \"num_attention_heads\": 12,"
                + "\"num_hidden_layers\": 12, \"max_position_embeddings\": 77, \"vocab_size\": 49408,"
                + "\"hidden_act\": \"quick_gelu\", \"layer_norm_eps\": 1e-5}");
    }

    /** OpenCLIP ViT-bigG's text tower as SDXL's text_encoder_2 config gives it, with {@code layers} layers (32). */
    private static JsonConfig bigG(int layers) {
        return JsonConfig.parse("clip-vit-bigG text config, " + layers + " layers", "{"
                + "\"hidden_size\": 1280, \"intermediate_size\": 5120, \"num_attention_heads\": 20,"
                + "\"num_hidden_layers\": " + layers + ", \"max_position_embeddings\": 77, \"vocab_size\": 49408,"
                + "\"hidden_act\": \"gelu\", \"layer_norm_eps\": 1e-5, \"projection_dim\": 1280}");
    }

    /** SDXL base 1.0's unet/config.json with the given widths (head dim 64 when heads = channels / 64). */
    private static JsonConfig sdxlUnet(String blocks, String heads, int sampleSize) {
        return JsonConfig.parse("sdxl-shaped unet " + blocks, "{"
                + "\"block_out_channels\": " + blocks + ", \"attention_head_dim\": " + heads + ","
                + "\"cross_attention_dim\": 2048, \"transformer_layers_per_block\": [1, 2, 10],"
                + "\"down_block_types\": [\"DownBlock2D\", \"CrossAttnDownBlock2D\", \"CrossAttnDownBlock2D\"],"
                + "\"up_block_types\": [\"CrossAttnUpBlock2D\", \"CrossAttnUpBlock2D\", \"UpBlock2D\"],"
                + "\"addition_embed_type\": \"text_time\", \"addition_time_embed_dim\": 256,"
                + "\"projection_class_embeddings_input_dim\": 2816, \"use_linear_projection\": true,"
                + "\"in_channels\": 4, \"out_channels\": 4, \"layers_per_block\": 2, \"norm_num_groups\": 32,"
                + "\"norm_eps\": 1e-5, \"flip_sin_to_cos\": true, \"freq_shift\": 0, \"sample_size\": " + sampleSize
                + "}");
    }

    private static JsonConfig sdxlVae(String blocks, int sampleSize) {
        JsonConfig v = vae(blocks, sampleSize);
        v.json().addProperty("scaling_factor", 0.13025);
        v.json().addProperty("force_upcast", true);
        return v;
    }

    private static JsonConfig unet(String blocks, int sampleSize) {
        return JsonConfig.parse("sd15-shaped unet " + blocks, "{"
                + "\"block_out_channels\": " + blocks + ", \"attention_head_dim\": 8, \"cross_attention_dim\": 768,"
                + "\"down_block_types\": [\"CrossAttnDownBlock2D\", \"CrossAttnDownBlock2D\", \"CrossAttnDownBlock2D\", \"DownBlock2D\"],"
                + "\"up_block_types\": [\"UpBlock2D\", \"CrossAttnUpBlock2D\", \"CrossAttnUpBlock2D\", \"CrossAttnUpBlock2D\"],"
                + "\"in_channels\": 4, \"out_channels\": 4, \"layers_per_block\": 2, \"norm_num_groups\": 32,"
                + "\"norm_eps\": 1e-5, \"flip_sin_to_cos\": true, \"freq_shift\": 0, \"downsample_padding\": 1,"
                + "\"mid_block_scale_factor\": 1, \"sample_size\": " + sampleSize + ", \"act_fn\": \"silu\"}");
    }

    private static JsonConfig vae(String blocks, int sampleSize) {
        return JsonConfig.parse("sd15-shaped vae " + blocks, "{"
                + "\"block_out_channels\": " + blocks + ", \"in_channels\": 3, \"out_channels\": 3,"
                + "\"latent_channels\": 4, \"layers_per_block\": 2, \"norm_num_groups\": 32, \"act_fn\": \"silu\","
                + "\"down_block_types\": [\"DownEncoderBlock2D\", \"DownEncoderBlock2D\", \"DownEncoderBlock2D\", \"DownEncoderBlock2D\"],"
                + "\"up_block_types\": [\"UpDecoderBlock2D\", \"UpDecoderBlock2D\", \"UpDecoderBlock2D\", \"UpDecoderBlock2D\"],"
                + "\"scaling_factor\": 0.18215, \"sample_size\": " + sampleSize + "}");
    }
}
