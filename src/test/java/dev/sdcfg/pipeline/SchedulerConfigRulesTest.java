package dev.sdcfg.pipeline;

import com.google.gson.JsonObject;
import dev.sdcfg.model.config.JsonConfig;
import dev.sdcfg.sampler.Sampler;
import dev.sdcfg.sampler.SamplerFactory;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;

/** The scheduler-config rewrite of diffusers' StableDiffusionPipeline.__init__ (steps_offset → 1, clip_sample → false). */
class SchedulerConfigRulesTest {

    private static JsonConfig cfg(String json) {
        return JsonConfig.parse("scheduler/scheduler_config.json", json);
    }

    private static JsonObject adjusted(String json) {
        return StableDiffusionPipeline.asStableDiffusionPipelineSees(cfg(json)).json();
    }

    @Test
    void stableDiffusionConfigsAreLeftAsTheyAre() {
        JsonConfig sd15 = cfg("{\"_class_name\":\"PNDMScheduler\",\"steps_offset\":1,\"clip_sample\":false,"
                + "\"skip_prk_steps\":true,\"beta_schedule\":\"scaled_linear\"}");
        assertSame(sd15, StableDiffusionPipeline.asStableDiffusionPipelineSees(sd15));
        JsonConfig sd21 = cfg("{\"_class_name\":\"DDIMScheduler\",\"steps_offset\":1,\"clip_sample\":false,"
                + "\"prediction_type\":\"v_prediction\"}");
        assertSame(sd21, StableDiffusionPipeline.asStableDiffusionPipelineSees(sd21));
    }

    @Test
    void stepsOffsetBecomesOneWhateverTheFileSays() {
        assertEquals(1, adjusted("{\"_class_name\":\"PNDMScheduler\"}").get("steps_offset").getAsInt());
        assertEquals(1, adjusted("{\"_class_name\":\"EulerDiscreteScheduler\",\"steps_offset\":0}").get("steps_offset").getAsInt());
        assertEquals(1, adjusted("{\"_class_name\":\"LMSDiscreteScheduler\",\"steps_offset\":3}").get("steps_offset").getAsInt());
    }

    @Test
    void clipSampleIsTurnedOffWhereTheModelSchedulerHasItOn() {
        // DDIM and DDPM default to clip_sample=True: a file that is silent gets it switched off
        assertFalse(adjusted("{\"_class_name\":\"DDIMScheduler\",\"steps_offset\":1}").get("clip_sample").getAsBoolean());
        assertFalse(adjusted("{\"_class_name\":\"DDPMScheduler\",\"steps_offset\":1,\"clip_sample\":true}").get("clip_sample").getAsBoolean());
        // a class without the option keeps no clip_sample key (a DDIM built from it later uses its own default)
        assertFalse(adjusted("{\"_class_name\":\"PNDMScheduler\"}").has("clip_sample"));
        // an unused key in the file still counts, as in scheduler.config
        assertFalse(adjusted("{\"_class_name\":\"EulerDiscreteScheduler\",\"steps_offset\":1,\"clip_sample\":true}")
                .get("clip_sample").getAsBoolean());
    }

    @Test
    void samplersBuiltFromTheAdjustedConfigUseTheOffset() {
        JsonConfig raw = cfg("{\"_class_name\":\"DDIMScheduler\",\"beta_schedule\":\"scaled_linear\","
                + "\"beta_start\":0.00085,\"beta_end\":0.012,\"timestep_spacing\":\"leading\"}");
        try (Sampler before = SamplerFactory.create("ddim", raw, new JsonObject());
             Sampler after = SamplerFactory.create("ddim", StableDiffusionPipeline.asStableDiffusionPipelineSees(raw),
                     new JsonObject())) {
            before.setTimesteps(10);
            after.setTimesteps(10);
            double[] t0 = before.timesteps();
            double[] t1 = after.timesteps();
            for (int i = 0; i < t0.length; i++) {
                t0[i] += 1; // leading spacing: the offset adds 1 to every timestep
            }
            assertArrayEquals(t0, t1, 0.0);
        }
    }
}
