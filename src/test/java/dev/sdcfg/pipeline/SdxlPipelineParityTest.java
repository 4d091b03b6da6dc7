package dev.sdcfg.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.guidance.GuidanceSpec;
import dev.sdcfg.model.clip.ClipTokenizer;
import dev.sdcfg.model.config.JsonConfig;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.testutil.Fixtures;
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
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * End to end against goldens made by diffusers' own {@code StableDiffusionXLPipeline} source on the tiny SDXL model
 * ({@code parity-extra/sdxl}, tools/sdxl-goldens/gen_sdxl.py run): two text encoders, "!"-padded tokenizer_2,
 * text_time UNet, SDXL's VAE config and EulerDiscreteScheduler config (leading spacing, steps_offset 1).
 *
 * <p>Runs (from {@code notes.json}): Euler CFG 5 with a negative prompt; Euler CFG 7 without one (zeros under
 * force_zeros_for_empty_prompt); DPM++ 2M ({@code DPMSolverMultistepScheduler.from_config}) CFG 6 with
 * guidance_rescale 0.7; Euler with explicit original_size / crops_coords_top_left / target_size. Per run: the
 * sampler's timesteps and init sigma; the initial noise bitwise; the conditioning the UNet receives (prompt
 * embeddings of the CFG pair, pooled text embeds, time ids) within relative L2 1e-4; the latents after every step,
 * the final latents and the decoded image within 1e-4; the 8-bit image within one level.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SdxlPipelineParityTest {

    private Path dir;
    private JsonObject notes;
    private Safetensors golden;
    private StableDiffusionPipeline pipe;
    private NDManager manager;

    @BeforeAll
    void load() throws IOException {
        dir = Fixtures.resource("parity-extra/sdxl");
        notes = JsonParser.parseString(Files.readString(dir.resolve("notes.json"), StandardCharsets.UTF_8))
                .getAsJsonObject();
        golden = Safetensors.open(dir.resolve("golden.safetensors"));
        pipe = StableDiffusionPipeline.load(dir.resolve("model"), ComputeContext.cpu(), PipelineOptions.defaults());
        manager = NDManager.newBaseManager();
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
    }

    private NDArray ref(String key) throws IOException {
        return golden.load(key, manager, null);
    }

    @Test
    void modelIsSdxl() {
        ModelInfo info = pipe.modelInfo();
        assertEquals("sdxl", info.family());
        assertEquals(64, info.nativeSize(), "sample_size 8 x VAE scale factor 8");
        assertEquals("EulerDiscreteScheduler", info.defaultSampler());
        assertEquals(0, pipe.sdxlTokenizer2().padId(), "SDXL's tokenizer_2 pads with '!' (id 0)");
        assertEquals(pipe.tokenizer().eosId(), pipe.tokenizer().padId(), "tokenizer pads with EOS");
    }

    @Test
    void tokenIdsAreStillOurs() throws IOException {
        for (String tk : List.of("tokenizer", "tokenizer_2")) {
            ClipTokenizer tok = tk.equals("tokenizer") ? pipe.tokenizer() : pipe.sdxlTokenizer2();
            for (Map.Entry<String, JsonElement> e : notes.getAsJsonObject("prompts").entrySet()) {
                long[] theirs = ref("ids." + tk + "." + e.getKey()).toLongArray();
                assertArrayEquals(theirs, tok.encode(e.getValue().getAsString()).ids(), tk + " " + e.getKey());
            }
        }
    }

    /** The run's request; micro-conditioning given to diffusers travels as the request's size conditions. */
    private static GenerationRequest request(JsonObject run) {
        JsonObject q = run.getAsJsonObject("request");
        String negative = q.get("negative_prompt").isJsonNull() ? "" : q.get("negative_prompt").getAsString();
        return new GenerationRequest(q.get("prompt").getAsString(), negative, q.get("width").getAsInt(),
                q.get("height").getAsInt(), q.get("steps").getAsInt(), q.get("sampler").getAsString(), null,
                GuidanceSpec.parse(q.get("guidance").getAsString()), q.get("seed").getAsLong(), 1,
                sizes(q.getAsJsonObject("call")));
    }

    private static SizeConditions sizes(JsonObject call) {
        if (!call.has("original_size")) {
            return null;
        }
        JsonArray o = call.getAsJsonArray("original_size");
        JsonArray c = call.getAsJsonArray("crops_coords_top_left");
        JsonArray t = call.getAsJsonArray("target_size");
        return new SizeConditions(o.get(0).getAsInt(), o.get(1).getAsInt(), c.get(0).getAsInt(),
                c.get(1).getAsInt(), t.get(0).getAsInt(), t.get(1).getAsInt());
    }

    @TestFactory
    List<DynamicTest> runs() {
        return PipelineGoldens.runs(notes, this::checkSchedule, this::checkInitialLatents, this::checkRun);
    }

    /** StableDiffusionXLPipeline leaves the scheduler config as it is (no steps_offset / clip_sample rewrite). */
    private void checkSchedule(String name, JsonObject run) throws IOException {
        PipelineGoldens.checkSchedule(golden, manager, name, run,
                JsonConfig.read(dir.resolve("model").resolve("scheduler").resolve("scheduler_config.json")), request(run));
    }

    private void checkInitialLatents(String name, JsonObject run) throws IOException {
        PipelineGoldens.checkInitialLatents(pipe, golden, manager, name, request(run));
    }

    private void checkRun(String name, JsonObject run) throws IOException {
        GenerationRequest r = request(run);
        pipe.validate(r);
        int steps = r.steps();
        System.out.printf("sdxl pipeline %-26s %s%n", name,
                PipelineGoldens.checkXlRun(pipe, golden, manager, name, r, steps));
    }
}
