package dev.sdcfg.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.testutil.Fixtures;
import dev.sdcfg.guidance.GuidanceSpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The notebook's experiments end to end against every {@code pipeline_*_f32.safetensors} golden (the fixtures'
 * {@code pipeline_lms50_f32}: prompt, seed 1024, LMS 50 steps, 128×128, ten guidance presets). Prompt, negative
 * prompt, sampler class, steps, seed and experiments come from {@code pipeline_notes.json}; the size from the
 * initial latents; the checked steps from the golden's {@code <name>.stepN.latents} keys. Initial latents exactly
 * equal; latents after each recorded step and at the end within relative L2 1e-4; the decoded 8-bit image within
 * one level per pixel.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PipelineParityTest {

    private static final double LATENT_TOL = 1e-4;

    private StableDiffusionPipeline pipe;
    private Safetensors golden;
    private JsonObject notes;
    private NDManager manager;

    private String sampler;
    private long seed;
    private int width;
    private int height;

    @BeforeAll
    void load() throws IOException {
        Path dir = Fixtures.golden();
        Path file;
        try (var files = Files.list(dir)) {
            file = files.filter(f -> f.getFileName().toString().matches("pipeline_.*_f32\\.safetensors")).sorted()
                    .findFirst().orElseThrow(() -> new IllegalStateException("no pipeline_*_f32.safetensors in " + dir));
        }
        golden = Safetensors.open(file);
        notes = JsonParser.parseString(Files.readString(dir.resolve("pipeline_notes.json"), StandardCharsets.UTF_8))
                .getAsJsonObject();
        pipe = StableDiffusionPipeline.load(Fixtures.model(), ComputeContext.cpu(), PipelineOptions.defaults());
        manager = NDManager.newBaseManager();
        // "LMSDiscreteScheduler.from_config(tiny-sd/scheduler)" → the diffusers class, which the factory accepts
        sampler = notes.get("scheduler").getAsString().replaceAll("[^A-Za-z0-9_].*$", "");
        Matcher m = Pattern.compile("manual_seed\\((\\d+)\\)").matcher(notes.get("latents").getAsString());
        seed = m.find() ? Long.parseLong(m.group(1)) : 1024;
        long[] latentShape = golden.info("init_latents").shape();
        height = (int) latentShape[2] * pipe.vaeScaleFactor();
        width = (int) latentShape[3] * pipe.vaeScaleFactor();
    }

    @AfterAll
    void close() throws IOException {
        manager.close();
        pipe.close();
        golden.close();
    }

    private NDArray ref(String key) throws IOException {
        return golden.load(key, manager, null);
    }

    private String prompt() {
        return notes.get("prompt").getAsString();
    }

    @Test
    void embeddingsMatch() throws IOException {
        NDArray cond = pipe.encodePrompt(prompt(), "prompt", null, manager);
        NDArray uncond = pipe.encodePrompt(notes.get("negative").getAsString(), "negative_prompt", null, manager);
        double ec = Fixtures.relL2(cond, ref("text_embeddings"));
        double eu = Fixtures.relL2(uncond, ref("uncond_embeddings"));
        System.out.printf("pipeline text_embeddings relL2 %.3e, uncond_embeddings %.3e%n", ec, eu);
        assertTrue(ec < LATENT_TOL, "text_embeddings " + ec);
        assertTrue(eu < LATENT_TOL, "uncond_embeddings " + eu);
    }

    @Test
    void initialLatentsAreExactlyTorchRandn() throws IOException {
        NDArray noise = pipe.initialNoise(seed, width, height, manager);
        NDArray r = ref("init_latents");
        assertEquals(r.getShape(), noise.getShape());
        assertEquals(0.0, Fixtures.relL2(noise, r), 0.0, "torch.manual_seed(seed); torch.randn(latent shape)");
    }

    @TestFactory
    List<DynamicTest> tenExperiments() {
        List<DynamicTest> tests = new ArrayList<>();
        JsonArray names = notes.getAsJsonArray("experiments");
        assertFalse(names.isEmpty(), "pipeline_notes.json lists no experiments");
        for (JsonElement e : names) {
            String name = e.getAsString();
            tests.add(DynamicTest.dynamicTest(name, () -> runExperiment(name)));
        }
        return tests;
    }

    private void runExperiment(String name) throws IOException {
        int steps = notes.get("steps").getAsInt();
        GenerationRequest r = new GenerationRequest(prompt(), notes.get("negative").getAsString(), width, height, steps,
                sampler, null, GuidanceSpec.parse("{\"preset\":\"" + name + "\"}"), seed, 1);
        List<Integer> recorded = new ArrayList<>();
        for (String k : golden.keys()) {
            Matcher m = Pattern.compile(Pattern.quote(name) + "\\.step(\\d+)\\.latents").matcher(k);
            if (m.matches()) {
                recorded.add(Integer.parseInt(m.group(1)));
            }
        }
        assertFalse(recorded.isEmpty(), name + ": no recorded steps in the golden");
        pipe.validate(r);
        Map<Integer, NDArray> seen = new HashMap<>();
        try (NDManager job = manager.newSubManager()) {
            NDArray cond = pipe.encodePrompt(r.prompt(), "prompt", null, job);
            NDArray uncond = pipe.encodePrompt(r.negativePrompt(), "negative_prompt", null, job);
            NDArray latents = pipe.denoise(r, r.seed(), 0, cond, uncond, GenerationListener.NONE, job,
                    (step, x) -> {
                        if (recorded.contains(step)) {
                            NDArray copy = x.duplicate();
                            copy.attach(job);
                            seen.put(step, copy);
                        }
                    });
            assertEquals(recorded.size(), seen.size(), name + ": every recorded step seen");
            System.out.printf("pipeline %-34s steps%s %s%n", name, recorded,
                    PipelineGoldens.checkTrajectory(pipe, golden, job, name, seen, latents));
        }
    }
}
