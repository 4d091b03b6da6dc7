package dev.sdcfg.pipeline.image;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link PilResample} and {@link PilGaussianBlur} against Pillow's own {@code Image.resize(size, Image.LANCZOS)} and
 * {@code image.filter(ImageFilter.GaussianBlur(radius))} ({@code parity-extra/pil}, tools/img2img-goldens/
 * gen_pil_ops.py): RGB and L images, enlarging, shrinking and mixed resizes, blur radii from 0.5 to larger than the
 * image. Every byte must be equal.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class PilOpsParityTest {

    private Safetensors golden;
    private JsonObject notes;
    private NDManager manager;

    @BeforeAll
    void load() throws IOException {
        Path dir = Fixtures.resource("parity-extra/pil");
        golden = Safetensors.open(dir.resolve("golden.safetensors"));
        notes = JsonParser.parseString(Files.readString(dir.resolve("notes.json"))).getAsJsonObject();
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    void close() throws IOException {
        manager.close();
        golden.close();
    }

    private NDArray ref(String key) throws IOException {
        return golden.load(key, manager, null);
    }

    @TestFactory
    List<DynamicTest> operations() {
        List<DynamicTest> tests = new ArrayList<>();
        for (var e : notes.getAsJsonObject("resizes").entrySet()) {
            for (JsonElement size : e.getValue().getAsJsonArray()) {
                String key = "resize." + e.getKey() + "." + size.getAsString();
                tests.add(DynamicTest.dynamicTest(key, () -> {
                    NDArray in = ref("input." + e.getKey());
                    NDArray want = ref(key);
                    long[] s = in.getShape().getShape();
                    long[] o = want.getShape().getShape();
                    byte[] ours = PilResample.lanczos(in.toByteArray(), (int) s[1], (int) s[0], (int) s[2],
                            (int) o[1], (int) o[0]);
                    assertSame(key, ours, want.toByteArray());
                }));
            }
        }
        JsonArray radii = notes.getAsJsonArray("radii");
        for (String img : List.of("rgb", "grey", "tiny")) {
            for (JsonElement r : radii) {
                String key = "blur." + img + ".r" + r.getAsString();
                tests.add(DynamicTest.dynamicTest(key, () -> {
                    NDArray in = ref("input." + img);
                    long[] s = in.getShape().getShape();
                    byte[] ours = PilGaussianBlur.blur(in.toByteArray(), (int) s[1], (int) s[0], (int) s[2],
                            r.getAsDouble());
                    assertSame(key, ours, ref(key).toByteArray());
                }));
            }
        }
        assertTrue(tests.size() >= 30, "cases: " + tests.size());
        return tests;
    }

    private static void assertSame(String key, byte[] ours, byte[] theirs) {
        assertEquals(theirs.length, ours.length, key + ": size");
        int[] d = Fixtures.u8Diff(ours, theirs);
        assertEquals(0, d[0], key + ": " + d[1] + " values differ, by up to " + d[0]);
    }
}
