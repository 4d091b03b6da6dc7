package dev.sdcfg.pipeline;

import ai.djl.ndarray.NDArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.guidance.GuidanceSpec;
import org.junit.jupiter.api.DynamicTest;
import ai.djl.ndarray.NDManager;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.testutil.Fixtures;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Replays one golden run through {@link StableDiffusionPipeline#denoise} and compares, with the limits of the
 * pipeline parity tests: the latents after every recorded step {@code <name>.stepI.latents}, the final latents and
 * the decoded image within relative L2 {@code tol}, the 8-bit image within one level.
 */
final class GoldenReplay {

    private GoldenReplay() {
    }

    /** Runs {@code r} (image 0) and checks it against {@code <name>.*} of {@code golden}; prints one summary line. */
    static void check(String tag, StableDiffusionPipeline pipe, GenerationRequest r, String name, int steps,
                      Safetensors golden, NDManager manager, double tol) throws IOException {
        pipe.validate(r);
        Map<Integer, NDArray> seen = new HashMap<>();
        try (NDManager job = manager.newSubManager()) {
            NDArray cond = pipe.encodePrompt(r.prompt(), "prompt", null, job);
            NDArray uncond = pipe.encodePrompt(r.negativePrompt(), "negative_prompt", null, job);
            NDArray latents = pipe.denoise(r, r.seed(), 0, cond, uncond, GenerationListener.NONE, job, (step, x) -> {
                NDArray copy = x.duplicate();
                copy.attach(job);
                seen.put(step, copy);
            });
            assertEquals(steps, seen.size(), name + ": model calls run");
            double worst = 0;
            for (int i = 0; i < steps; i++) {
                double err = Fixtures.relL2(seen.get(i), golden.load(name + ".step" + i + ".latents", job, null));
                worst = Math.max(worst, err);
                assertTrue(err < tol, name + " step" + i + " relL2 " + err);
            }
            double ef = Fixtures.relL2(latents, golden.load(name + ".final_latents", job, null));
            assertTrue(ef < tol, name + " final_latents relL2 " + ef);
            NDArray decoded = pipe.decode(latents);
            decoded.attach(job);
            double ei = Fixtures.relL2(decoded, golden.load(name + ".image", job, null));
            int[] u8 = Fixtures.u8Diff(StableDiffusionPipeline.toRgbBytes(decoded),
                    golden.load(name + ".image_u8", job, null).toByteArray());
            System.out.printf("%s %-34s worst step %.2e  final %.2e  image %.2e  u8 max diff %d (%d values)%n",
                    tag, name, worst, ef, ei, u8[0], u8[1]);
            assertTrue(ei < tol, name + " image relL2 " + ei);
            assertTrue(u8[0] <= 1, name + ": 8-bit image differs by " + u8[0] + " levels");
        }
    }

    /** A check of one run of notes.json. */
    interface RunCheck {
        void check(String name, JsonObject run) throws Exception;
    }

    /** notes.json of a golden case folder. */
    static JsonObject notes(Path caseDir) throws IOException {
        return JsonParser.parseString(Files.readString(caseDir.resolve("notes.json"), StandardCharsets.UTF_8))
                .getAsJsonObject();
    }

    /** Two dynamic tests per run of {@code notes}: "{name} {startLabel}" and "{name}". */
    static List<DynamicTest> perRun(JsonObject notes, String startLabel, RunCheck start, RunCheck whole) {
        List<DynamicTest> tests = new ArrayList<>();
        assertFalse(notes.getAsJsonArray("runs").isEmpty(), "notes.json lists no runs");
        for (JsonElement e : notes.getAsJsonArray("runs")) {
            JsonObject run = e.getAsJsonObject();
            String name = run.get("name").getAsString();
            tests.add(DynamicTest.dynamicTest(name + " " + startLabel, () -> start.check(name, run)));
            tests.add(DynamicTest.dynamicTest(name, () -> whole.check(name, run)));
        }
        return tests;
    }

    /** The run's request (notes.json "request": prompt, negative, size, steps, sampler, guidance, seed) for image 0. */
    static GenerationRequest request(JsonObject run, Img2ImgInput start) {
        JsonObject q = run.getAsJsonObject("request");
        return new GenerationRequest(q.get("prompt").getAsString(), q.get("negative_prompt").getAsString(),
                q.get("width").getAsInt(), q.get("height").getAsInt(), q.get("steps").getAsInt(),
                q.get("sampler").isJsonNull() ? null : q.get("sampler").getAsString(), null,
                GuidanceSpec.parse(q.get("guidance").getAsString()), q.get("seed").getAsLong(), 1, start);
    }

    /** Deletes a temporary folder and everything in it. */
    static void deleteTree(Path root) throws IOException {
        try (Stream<Path> files = Files.walk(root)) {
            files.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        }
    }
}
