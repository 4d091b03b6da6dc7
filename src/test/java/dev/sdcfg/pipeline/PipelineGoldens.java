package dev.sdcfg.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import dev.sdcfg.model.config.JsonConfig;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.sampler.Sampler;
import dev.sdcfg.sampler.SamplerFactory;
import dev.sdcfg.testutil.Fixtures;

import org.junit.jupiter.api.DynamicTest;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The checks the end-to-end parity tests share (goldens made by diffusers' own pipelines: PipelineParityTest,
 * Sd2PipelineParityTest, SdxlPipelineParityTest, SdxlImg2ImgParityTest): the sampler's schedule, the initial noise
 * bitwise, an SDXL run's conditioning, and a run's trajectory — latents after every recorded step, final latents and decoded image within relative L2 1e-4, the 8-bit
 * image within one level.
 */
final class PipelineGoldens {

    static final double TOL = 1e-4;

    private PipelineGoldens() {
    }

    /** One check of one run of notes.json. */
    interface RunCheck {
        void check(String name, JsonObject run) throws Exception;
    }

    /** Per run of {@code notes.json}'s "runs": "NAME schedule", "NAME initial latents" and "NAME" (the run). */
    static List<DynamicTest> runs(JsonObject notes, RunCheck schedule, RunCheck initialLatents, RunCheck run) {
        List<DynamicTest> tests = new ArrayList<>();
        assertFalse(notes.getAsJsonArray("runs").isEmpty(), "notes.json lists no runs");
        for (JsonElement e : notes.getAsJsonArray("runs")) {
            JsonObject r = e.getAsJsonObject();
            String name = r.get("name").getAsString();
            tests.add(DynamicTest.dynamicTest(name + " schedule", () -> schedule.check(name, r)));
            tests.add(DynamicTest.dynamicTest(name + " initial latents", () -> initialLatents.check(name, r)));
            tests.add(DynamicTest.dynamicTest(name, () -> run.check(name, r)));
        }
        return tests;
    }

    /** The sampler the request names, built from {@code schedulerConfig}, has diffusers' timesteps and init sigma. */
    static void checkSchedule(Safetensors golden, NDManager m, String name, JsonObject run, JsonConfig schedulerConfig,
                              GenerationRequest r) throws IOException {
        try (Sampler s = SamplerFactory.create(r.sampler(), schedulerConfig, r.samplerOptions().toJson())) {
            assertEquals(run.get("scheduler_class").getAsString(), s.diffusersClass());
            s.setTimesteps(r.steps());
            double[] theirs = golden.load(name + ".timesteps", m, null).toDoubleArray();
            assertEquals(theirs.length, s.timesteps().length, name + " timestep count");
            for (int i = 0; i < theirs.length; i++) {
                assertEquals(theirs[i], s.timesteps()[i], 1e-4 * Math.max(1, Math.abs(theirs[i])),
                        name + " timestep " + i);
            }
            double sigma = golden.load(name + ".init_noise_sigma", m, null).getDouble();
            assertEquals(sigma, s.initNoiseSigma(), 1e-6 * sigma, name + " init_noise_sigma");
        }
    }

    /** {@code <name>.init_latents}: torch.randn with the seeded CPU generator, bit for bit. */
    static void checkInitialLatents(StableDiffusionPipeline pipe, Safetensors golden, NDManager m, String name,
                                    GenerationRequest r) throws IOException {
        NDArray noise = pipe.initialNoise(r.seed(), r.width(), r.height(), m);
        NDArray theirs = golden.load(name + ".init_latents", m, null);
        assertEquals(theirs.getShape(), noise.getShape());
        assertEquals(0.0, Fixtures.relL2(noise, theirs), 0.0, name + ": torch.manual_seed(seed); torch.randn(shape)");
    }

    /**
     * {@code seen} (step → latents after it) against {@code <name>.stepI.latents}, the final latents, then their
     * decode against {@code <name>.image} and {@code <name>.image_u8}. Returns a summary line for the log.
     */
    static String checkTrajectory(StableDiffusionPipeline pipe, Safetensors golden, NDManager m, String name,
                                  Map<Integer, NDArray> seen, NDArray latents) throws IOException {
        double worst = 0;
        for (Map.Entry<Integer, NDArray> e : new TreeMap<>(seen).entrySet()) {
            double err = Fixtures.relL2(e.getValue(), golden.load(name + ".step" + e.getKey() + ".latents", m, null));
            worst = Math.max(worst, err);
            assertTrue(err < TOL, name + " step" + e.getKey() + " relL2 " + err);
        }
        double ef = Fixtures.relL2(latents, golden.load(name + ".final_latents", m, null));
        assertTrue(ef < TOL, name + " final_latents relL2 " + ef);
        NDArray image = pipe.decode(latents);
        image.attach(m);
        double ei = Fixtures.relL2(image, golden.load(name + ".image", m, null));
        byte[] ours = StableDiffusionPipeline.toRgbBytes(image);
        byte[] theirs = golden.load(name + ".image_u8", m, null).toByteArray();
        assertEquals(theirs.length, ours.length);
        int[] u8 = Fixtures.u8Diff(ours, theirs);
        String summary = String.format(Locale.ROOT, "worst step %.3e  final %.3e  image %.3e  u8 max diff %d (%d of %d"
                + " values differ)", worst, ef, ei, u8[0], u8[1], ours.length);
        assertTrue(ei < TOL, name + " image relL2 " + ei);
        assertTrue(u8[0] <= 1, name + ": 8-bit image differs by " + u8[0] + " levels");
        return summary;
    }

    /**
     * An SDXL run as the service runs it (encodeXl, then denoise recording the latents after every model call),
     * checked against diffusers' {@code <name>.prompt_embeds} and {@code .add_text_embeds} (relative L2 under TOL),
     * {@code .add_time_ids} (exact), {@code expectedSteps} recorded steps and then {@link #checkTrajectory}.
     * Returns the log line.
     */
    static String checkXlRun(StableDiffusionPipeline pipe, Safetensors golden, NDManager manager, String name,
                             GenerationRequest r, int expectedSteps) throws IOException {
        Map<Integer, NDArray> seen = new HashMap<>();
        try (NDManager job = manager.newSubManager()) {
            SdxlConditioning.Encoded[] pair = pipe.encodeXl(r, SizeConditions.of(r), null, job);
            SdxlConditioning.Encoded uncond = pair[0];
            SdxlConditioning.Encoded cond = pair[1];
            double ee = Fixtures.relL2(NDArrays.concat(new NDList(uncond.embeds(), cond.embeds()), 0),
                    golden.load(name + ".prompt_embeds", manager, null));
            double ep = Fixtures.relL2(NDArrays.concat(new NDList(uncond.added().textEmbeds(),
                    cond.added().textEmbeds()), 0), golden.load(name + ".add_text_embeds", manager, null));
            NDArray ids = NDArrays.concat(new NDList(uncond.added().timeIds(), cond.added().timeIds()), 0);
            assertArrayEquals(golden.load(name + ".add_time_ids", manager, null).toFloatArray(), ids.toFloatArray(),
                    0f, name + " time ids");
            assertTrue(ee < TOL && ep < TOL, name + ": prompt_embeds relL2 " + ee + ", add_text_embeds " + ep);
            NDArray latents = pipe.denoise(r, r.seed(), 0, cond.embeds(), uncond.embeds(), cond.added(),
                    uncond.added(), GenerationListener.NONE, job, (step, x) -> {
                        NDArray copy = x.duplicate();
                        copy.attach(job);
                        seen.put(step, copy);
                    });
            assertEquals(expectedSteps, seen.size(), name + ": model calls run");
            return String.format(Locale.ROOT, "embeds %.2e pooled %.2e %s", ee, ep,
                    checkTrajectory(pipe, golden, job, name, seen, latents));
        }
    }
}
