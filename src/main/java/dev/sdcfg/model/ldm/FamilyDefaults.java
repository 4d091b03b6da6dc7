package dev.sdcfg.model.ldm;

import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import dev.sdcfg.model.ldm.SingleFileCheckpoint.Family;

import java.util.List;

/**
 * What a single-file checkpoint's weights cannot tell, per family: the values of the configs diffusers'
 * {@code from_single_file} would fetch from the hub (SD 1.5's {@code v1-inference.yaml} and scheduler, SD 2.1's, SDXL
 * base 1.0's), written down here so that nothing is fetched. Each method adds its entries to {@code assumed}, which
 * {@link SingleFileCheckpoint} logs; a sidecar overrides any of them.
 */
final class FamilyDefaults {

    private FamilyDefaults() {
    }

    /** The UNet entries the weights cannot tell: GroupNorm groups, heads, attention upcast, sample size. */
    static void unet(Family family, JsonObject c, JsonArray channels, String predictionType, List<String> assumed) {
        c.addProperty("norm_num_groups", 32);
        if (family == Family.SDXL) {
            // Not in the weights: sd_xl_base.yaml's num_head_channels 64 (diffusers' attention_head_dim = channels /
            // 64 per block, [5, 10, 20]), image size 1024
            JsonArray heads = new JsonArray();
            for (int i = 0; i < channels.size(); i++) {
                heads.add(Math.max(1, channels.get(i).getAsInt() / 64));
            }
            c.add("attention_head_dim", heads);
            c.addProperty("sample_size", 128);
            assumed.add("unet attention_head_dim " + heads + " (64 channels per head), norm_num_groups 32,"
                    + " sample_size 128");
        } else if (family == Family.SD2) {
            // Not in the weights: v2-inference(-v).yaml's num_head_channels 64, which diffusers turns into a head
            // count per block (its attention_head_dim); SD 2.1's upcast_attention (diffusers' config for every
            // single-file "v2" model); 768 px for v-prediction models, 512 px for the epsilon 2.x-base ones.
            JsonArray heads = new JsonArray();
            for (int i = 0; i < channels.size(); i++) {
                heads.add(Math.max(1, channels.get(i).getAsInt() / 64));
            }
            int sample = "v_prediction".equals(predictionType) ? 96 : 64;
            c.add("attention_head_dim", heads);
            c.addProperty("upcast_attention", true);
            c.addProperty("sample_size", sample);
            assumed.add("unet attention_head_dim " + heads + " (64 channels per head), upcast_attention true,"
                    + " norm_num_groups 32, sample_size " + sample);
        } else {
            // Not in the weights: v1-inference.yaml's num_heads 8 (diffusers' attention_head_dim, a head count),
            // GroupNorm(32), image_size 64.
            c.addProperty("attention_head_dim", 8);
            c.addProperty("sample_size", 64);
            assumed.add("unet attention_head_dim 8, norm_num_groups 32, sample_size 64");
        }
    }

    /** The VAE entries the weights cannot tell: GroupNorm groups, scaling factor, upcast, sample size. */
    static void vae(Family family, JsonObject c, List<String> assumed) {
        c.addProperty("norm_num_groups", 32);
        if (family == Family.SDXL) {
            // SDXL base's VAE config: its own scaling factor, and fp16 overflows (diffusers upcasts it)
            c.addProperty("scaling_factor", 0.13025);
            c.addProperty("force_upcast", true);
            c.addProperty("sample_size", 1024);
            assumed.add("vae norm_num_groups 32, scaling_factor 0.13025, force_upcast true");
        } else {
            c.addProperty("scaling_factor", 0.18215);
            c.addProperty("sample_size", 512);
            assumed.add("vae norm_num_groups 32, scaling_factor 0.18215");
        }
    }

    /**
     * The scheduler: SD 1.x's (the v1-5 repository's scheduler_config.json: PNDM), SD 2.x's
     * (stabilityai/stable-diffusion-2-1's: DDIM with the same betas) and SDXL base's (Euler, leading spacing), with
     * {@code predictionType} (SD 1.x: epsilon).
     */
    static JsonObject scheduler(Family family, String predictionType, List<String> assumed) {
        if (family == Family.SDXL) {
            // stabilityai/stable-diffusion-xl-base-1.0's scheduler_config.json
            JsonObject c = new JsonObject();
            c.addProperty("_class_name", "EulerDiscreteScheduler");
            c.addProperty("beta_end", 0.012);
            c.addProperty("beta_schedule", "scaled_linear");
            c.addProperty("beta_start", 0.00085);
            c.addProperty("clip_sample", false);
            c.addProperty("interpolation_type", "linear");
            c.addProperty("num_train_timesteps", 1000);
            c.addProperty("prediction_type", predictionType);
            c.addProperty("sample_max_value", 1.0);
            c.addProperty("set_alpha_to_one", false);
            c.addProperty("skip_prk_steps", true);
            c.addProperty("steps_offset", 1);
            c.addProperty("timestep_spacing", "leading");
            c.add("trained_betas", JsonNull.INSTANCE);
            c.addProperty("use_karras_sigmas", false);
            assumed.add("scheduler EulerDiscreteScheduler scaled_linear 0.00085..0.012 leading, prediction_type "
                    + predictionType);
            return c;
        }
        if (family == Family.SD2) {
            JsonObject c = new JsonObject();
            c.addProperty("_class_name", "DDIMScheduler");
            c.addProperty("beta_end", 0.012);
            c.addProperty("beta_schedule", "scaled_linear");
            c.addProperty("beta_start", 0.00085);
            c.addProperty("clip_sample", false);
            c.addProperty("num_train_timesteps", 1000);
            c.addProperty("set_alpha_to_one", false);
            c.addProperty("skip_prk_steps", true);
            c.addProperty("steps_offset", 1);
            c.addProperty("prediction_type", predictionType);
            assumed.add("scheduler DDIMScheduler scaled_linear 0.00085..0.012");
            return c;
        }
        JsonObject c = new JsonObject();
        c.addProperty("_class_name", "PNDMScheduler");
        c.addProperty("beta_end", 0.012);
        c.addProperty("beta_schedule", "scaled_linear");
        c.addProperty("beta_start", 0.00085);
        c.addProperty("clip_sample", false);
        c.addProperty("num_train_timesteps", 1000);
        c.addProperty("set_alpha_to_one", false);
        c.addProperty("skip_prk_steps", true);
        c.addProperty("steps_offset", 1);
        c.addProperty("prediction_type", "epsilon");
        assumed.add("scheduler PNDMScheduler scaled_linear 0.00085..0.012, prediction_type epsilon");
        return c;
    }
}
