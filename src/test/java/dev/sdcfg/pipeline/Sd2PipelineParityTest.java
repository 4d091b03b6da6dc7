package dev.sdcfg.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.model.clip.ClipTokenizer;
import dev.sdcfg.model.config.JsonConfig;
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
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * End to end against a golden made by diffusers' own {@code StableDiffusionPipeline} source on an SD 2.x-style tiny
 * model ({@code parity-extra/pipeline/sd2_v}, tools/pipeline-goldens): the demo model with a gelu text encoder, SD
 * 2.x's "!" padding, a new v-prediction UNet (linear projections, upcast attention, list attention_head_dim) and
 * stabilityai/stable-diffusion-2-1's DDIM scheduler config. The model folder is assembled here as the generator
 * did: a copy of the demo model with the golden's {@code model/} files over it.
 *
 * <p>Runs (from {@code notes.json}): DDIM v-prediction CFG 7.5, the same with guidance_rescale 0.7, DDIM with eta 0.6,
 * Euler and Euler ancestral {@code from_config} of the model's DDIM config (timestep spacing "linspace": the SD 2.1
 * config has no such key, so from_config leaves each class its default). Each run also checks the sampler's
 * timesteps and init sigma. Limits as {@link PipelineParityTest}: initial latents
 * exactly equal; latents after every step and at the end within relative L2 1e-4; the decoded image within 1e-4
 * too; the 8-bit image within one level per pixel. The token ids (ours, given to the generator) must still be what
 * our tokenizer produces, and the text embeddings within 1e-4.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class Sd2PipelineParityTest {

    private static final double LATENT_TOL = 1e-4;

    private Path caseDir;
    private Path modelDir;
    private JsonObject notes;
    private Safetensors golden;
    private StableDiffusionPipeline pipe;
    private NDManager manager;

    @BeforeAll
    void load() throws IOException {
        caseDir = Fixtures.resource("parity-extra/pipeline/sd2_v");
        notes = JsonParser.parseString(Files.readString(caseDir.resolve("notes.json"), StandardCharsets.UTF_8))
                .getAsJsonObject();
        golden = Safetensors.open(caseDir.resolve("golden.safetensors"));
        modelDir = Files.createTempDirectory("sd2-pipeline-parity").resolve("model");
        assemble(Fixtures.resource("random-model"), caseDir.resolve("model"), modelDir);
        pipe = StableDiffusionPipeline.load(modelDir, ComputeContext.cpu(), PipelineOptions.defaults());
        manager = NDManager.newBaseManager();
    }

    /** A copy of the demo model, then the overlay's files over it (what gen_pipeline.py's assemble does). */
    static void assemble(Path demo, Path overlay, Path dst) throws IOException {
        for (Path root : new Path[] {demo, overlay}) {
            try (Stream<Path> files = Files.walk(root)) {
                for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                    Path target = dst.resolve(root.relativize(f).toString());
                    Files.createDirectories(target.getParent());
                    Files.copy(f, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    @AfterAll
    void close() throws IOException {
        if (manager != null) {
            manager.close();
        }
        if (pipe != null) {
            pipe.close();
        }
        golden.close();
        try (Stream<Path> files = Files.walk(modelDir.getParent())) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }

    private NDArray ref(String key) throws IOException {
        return golden.load(key, manager, null);
    }

    private JsonObject prompts() {
        return notes.getAsJsonObject("prompts");
    }

    @Test
    void modelIsSd2Style() {
        assertEquals(0, pipe.tokenizer().padId(), "SD 2.x pads with '!' (id 0), from special_tokens_map.json");
        assertEquals(77, pipe.tokenizer().maxLength());
        assertTrue(pipe.unet().config().upcastAttention(), "upcast_attention");
        assertEquals("v_prediction", pipe.modelInfo().predictionType());
        assertEquals("DDIMScheduler", pipe.modelInfo().defaultSampler());
    }

    @Test
    void tokenIdsAreStillOurs() throws IOException {
        assertFalse(prompts().isEmpty());
        for (Map.Entry<String, JsonElement> e : prompts().entrySet()) {
            String text = e.getValue().getAsJsonObject().get("text").getAsString();
            ClipTokenizer.Encoding enc = pipe.tokenizer().encode(text);
            long[] theirs = ref("ids." + e.getKey()).toLongArray();
            assertArrayEquals(theirs, enc.ids(), "ids of " + e.getKey() + " '" + text + "'");
        }
    }

    @Test
    void embeddingsMatch() throws IOException {
        for (Map.Entry<String, JsonElement> e : prompts().entrySet()) {
            String text = e.getValue().getAsJsonObject().get("text").getAsString();
            NDArray emb = pipe.encodePrompt(text, "prompt", null, manager);
            double err = Fixtures.relL2(emb, ref("embeds." + e.getKey()));
            System.out.printf("sd2 pipeline embeds.%-9s relL2 %.3e%n", e.getKey(), err);
            assertTrue(err < LATENT_TOL, "embeds." + e.getKey() + " relL2 " + err);
        }
    }

    private static GenerationRequest request(JsonObject run) {
        JsonObject q = run.getAsJsonObject("request");
        return new GenerationRequest(q.get("prompt").getAsString(), q.get("negative_prompt").getAsString(),
                q.get("width").getAsInt(), q.get("height").getAsInt(), q.get("steps").getAsInt(),
                q.get("sampler").getAsString(), q.get("sampler_options").isJsonNull() ? null
                        : SamplerOverrides.parse(q.get("sampler_options").getAsString()),
                GuidanceSpec.parse(q.get("guidance").getAsString()),
                q.get("seed").getAsLong(), 1);
    }

    @TestFactory
    List<DynamicTest> runs() {
        return PipelineGoldens.runs(notes, this::checkSchedule, this::checkInitialLatents, this::checkRun);
    }

    /** The sampler the request names, built as the pipeline builds it, has diffusers' timesteps and init sigma. */
    private void checkSchedule(String name, JsonObject run) throws IOException {
        PipelineGoldens.checkSchedule(golden, manager, name, run, StableDiffusionPipeline.asStableDiffusionPipelineSees(
                JsonConfig.read(modelDir.resolve("scheduler").resolve("scheduler_config.json"))), request(run));
    }

    private void checkInitialLatents(String name, JsonObject run) throws IOException {
        PipelineGoldens.checkInitialLatents(pipe, golden, manager, name, request(run));
    }

    private void checkRun(String name, JsonObject run) throws IOException {
        GenerationRequest r = request(run);
        List<Integer> recorded = new ArrayList<>();
        Pattern p = Pattern.compile(Pattern.quote(name) + "\\.step(\\d+)\\.latents");
        for (String k : golden.keys()) {
            Matcher m = p.matcher(k);
            if (m.matches()) {
                recorded.add(Integer.parseInt(m.group(1)));
            }
        }
        recorded.sort(null);
        assertEquals(r.steps(), recorded.size(), name + ": the golden records every step");
        pipe.validate(r);
        Map<Integer, NDArray> seen = new HashMap<>();
        try (NDManager job = manager.newSubManager()) {
            NDArray cond = pipe.encodePrompt(r.prompt(), "prompt", null, job);
            NDArray uncond = pipe.encodePrompt(r.negativePrompt(), "negative_prompt", null, job);
            NDArray latents = pipe.denoise(r, r.seed(), 0, cond, uncond, GenerationListener.NONE, job,
                    (step, x) -> {
                        NDArray copy = x.duplicate();
                        copy.attach(job);
                        seen.put(step, copy);
                    });
            assertEquals(recorded, new ArrayList<>(new java.util.TreeSet<>(seen.keySet())), name + ": every step seen");
            System.out.printf("sd2 pipeline %-24s %s%n", name,
                    PipelineGoldens.checkTrajectory(pipe, golden, job, name, seen, latents));
        }
    }
}
