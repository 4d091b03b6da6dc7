package dev.sdcfg.bench;

import dev.sdcfg.model.config.JsonConfig;

import java.util.Locale;

/**
 * Model configs for benchmarking with random weights (no download needed): {@code sd15} has Stable Diffusion
 * 1.5's exact shapes; {@code mid} keeps SD1.5's structure (CLIP-L text encoder, 768-wide cross attention, 32
 * GroupNorm groups) with narrower UNet/VAE channels so a CPU can run it in seconds.
 */
final class BenchConfigs {

    private BenchConfigs() {
    }

    record Preset(JsonConfig text, JsonConfig unet, JsonConfig vae, int defaultSize) {
    }

    static Preset get(String name) {
        switch (name.toLowerCase(Locale.ROOT)) {
            case "sd15":
                return new Preset(clipL(), unet("[320, 640, 1280, 1280]", 64), vae("[128, 256, 512, 512]", 512), 512);
            case "mid":
                return new Preset(clipL(), unet("[64, 128, 256, 256]", 32), vae("[32, 64, 128, 128]", 256), 256);
            default:
                throw new IllegalArgumentException("unknown benchmark config '" + name + "' (sd15, mid)");
        }
    }

    private static JsonConfig clipL() {
        return JsonConfig.parse("clip-vit-large-patch14 text config", "{"
                + "\"hidden_size\": 768, \"intermediate_size\": 3072, \"num_attention_heads\": 12,"
                + "\"num_hidden_layers\": 12, \"max_position_embeddings\": 77, \"vocab_size\": 49408,"
                + "\"hidden_act\": \"quick_gelu\", \"layer_norm_eps\": 1e-5}");
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
