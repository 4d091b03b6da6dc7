package dev.sdcfg.model.ldm;

import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.pipeline.CheckpointLoader;
import dev.sdcfg.pipeline.PipelineOptions;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.LdmFixture;
import dev.sdcfg.testutil.SafetensorsWriter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Broken single-file checkpoints: each fails to load with a {@link ModelLoadException} naming the file and, where
 * there is one, the tensor (as stored and as the model names it).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SingleFileBadInputTest {

    private static final String CONV_IN = "model.diffusion_model.input_blocks.0.0.weight";

    private Path dir;
    private Path good;

    @BeforeAll
    void write() throws IOException {
        DjlRuntime.engine();
        dir = Files.createTempDirectory("ldm-bad-");
        good = LdmFixture.write(dir, "good");
    }

    @AfterAll
    void cleanUp() throws IOException {
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    /** A copy of the good checkpoint (with its sidecar) where {@code edit} changes what is written. */
    private Path variant(String name, String skip, Consumer<SafetensorsWriter> edit) throws IOException {
        SafetensorsWriter w = new SafetensorsWriter();
        try (Safetensors src = Safetensors.open(good)) {
            for (String k : src.keys()) {
                if (!k.equals(skip)) {
                    w.copy(src, k, k, src.info(k).shape());
                }
            }
        }
        edit.accept(w);
        Path out = dir.resolve(name + ".safetensors");
        w.write(out);
        Files.writeString(dir.resolve(name + ".json"), LdmFixture.SIDECAR);
        return out;
    }

    private static ModelLoadException load(Path p) {
        return assertThrows(ModelLoadException.class,
                () -> CheckpointLoader.load(p, ComputeContext.cpu(), PipelineOptions.defaults()).close());
    }

    private static void says(ModelLoadException e, String... parts) {
        for (String s : parts) {
            assertTrue(e.getMessage().contains(s), "'" + s + "' missing from: " + e.getMessage());
        }
    }

    @Test
    void truncatedAndOversizedHeaders() throws IOException {
        byte[] all = Files.readAllBytes(good);
        Path truncated = dir.resolve("truncated.safetensors");
        Files.write(truncated, java.util.Arrays.copyOf(all, 100)); // the header ends beyond the file
        says(load(truncated), "truncated.safetensors", "header length");
        Path oversized = dir.resolve("oversized.safetensors");
        byte[] huge = all.clone();
        ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 1L << 40);
        Files.write(oversized, huge);
        says(load(oversized), "oversized.safetensors", "header length");
        Path shortData = dir.resolve("shortdata.safetensors");
        Files.write(shortData, java.util.Arrays.copyOf(all, all.length - 4)); // last tensor cut short
        says(load(shortData), "shortdata.safetensors", "data offsets");
    }

    @Test
    void wrongDtypeNamesTheTensor() throws IOException {
        Path p = variant("intweight", CONV_IN, w -> w.addInt64(CONV_IN, new long[] {16, 4, 3, 3}, new long[16 * 4 * 9]));
        says(load(p), "intweight.safetensors", CONV_IN, "conv_in.weight", "dtype I64");
    }

    @Test
    void shapeMismatchNamesTheTensor() throws IOException {
        String k = "model.diffusion_model.input_blocks.1.1.proj_in.weight";
        Path p = variant("badshape", k, w -> w.put(k, new long[] {16, 8, 1, 1}, new float[16 * 8]));
        says(load(p), "badshape.safetensors", k, "down_blocks.0.attentions.0.proj_in.weight", "[16, 8, 1, 1]");
    }

    @Test
    void missingAndUnknownTensors() throws IOException {
        String k = "first_stage_model.decoder.mid.attn_1.k.weight";
        says(load(variant("missing", k, w -> { })), "missing.safetensors", "missing tensor",
                "decoder.mid_block.attentions.0.to_k.weight");
        String extra = "model.diffusion_model.input_blocks.1.1.extra.weight";
        says(load(variant("extra", null, w -> w.put(extra, new long[] {1}, new float[] {0f}))), "extra.safetensors",
                extra, "is not used");
    }

    @Test
    void badSidecarFailsTheLoadNamingIt() throws IOException {
        Path p = variant("sidecar", null, w -> { });
        Files.writeString(dir.resolve("sidecar.json"), "{\"unet\": 3}");
        says(load(p), "sidecar.json", "'unet' must be a mapping");
    }
}
