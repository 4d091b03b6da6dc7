package dev.sdcfg.model.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.config.JsonConfig;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.model.io.Weights;
import dev.sdcfg.model.unet.UNet2DConditionModel;
import dev.sdcfg.model.unet.UNetConfig;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.Fixtures;
import dev.sdcfg.testutil.SafetensorsWriter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * LoRA files against diffusers' own kohya conversion and PEFT's merge formula ({@code tools/lora-goldens}): the kohya
 * file and the same update in diffusers/PEFT keys give the golden merged weights (fp64 and fp32), a model built
 * from the patched weights takes every update, the unpatched weights stay the file's bytes, and bad files fail
 * naming file and key.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class LoraFileTest {

    private Path golden;
    private Weights unet;
    private Weights te;
    private Map<String, Map<String, long[]>> shapes;
    private Path tmp;

    @BeforeAll
    void open() throws IOException {
        DjlRuntime.engine();
        golden = Fixtures.resource("parity-extra/lora");
        unet = Weights.openComponent(Fixtures.model().resolve("unet"), null);
        te = Weights.openComponent(Fixtures.model().resolve("text_encoder"), null);
        shapes = new LinkedHashMap<>();
        shapes.put(LoraFile.UNET, shapesOf(unet));
        shapes.put(LoraFile.TEXT_ENCODER, shapesOf(te));
        tmp = Files.createTempDirectory("lora-");
    }

    @AfterAll
    void close() throws IOException {
        unet.close();
        te.close();
        try (var s = Files.list(tmp)) {
            for (Path p : s.toList()) {
                Files.deleteIfExists(p);
            }
        }
        Files.deleteIfExists(tmp);
    }

    static Map<String, long[]> shapesOf(Weights w) {
        Map<String, long[]> out = new LinkedHashMap<>();
        for (String k : w.keys()) {
            out.put(k, w.shapeOf(k));
        }
        return out;
    }

    private Map<String, Weights.Patch> patches(LoraFile f, String component, double weight) {
        Map<String, List<Weights.Patch>> lists = new LinkedHashMap<>();
        f.addPatches(component, weight, lists);
        return LoraFile.combine(lists);
    }

    private void checkAgainstGolden(String file) throws IOException {
        try (LoraFile lora = LoraFile.open(golden.resolve(file), shapes);
             Safetensors g = Safetensors.open(golden.resolve("golden.safetensors"));
             NDManager m = NDManager.newBaseManager()) {
            int checked = 0;
            for (String comp : List.of(LoraFile.UNET, LoraFile.TEXT_ENCODER)) {
                Weights base = comp.equals(LoraFile.UNET) ? unet : te;
                Weights patched = base.withPatches(patches(lora, comp, 0.7));
                for (String gk : g.keys()) {
                    if (!gk.startsWith(comp + "/") || !gk.endsWith(".f64")) {
                        continue;
                    }
                    String key = gk.substring(comp.length() + 1, gk.length() - 4);
                    long[] shape = base.shapeOf(key);
                    for (String tag : List.of("f64", "f32")) {
                        DataType dt = tag.equals("f64") ? DataType.FLOAT64 : DataType.FLOAT32;
                        NDArray ours = patched.get(key, m, dt, shape);
                        NDArray ref = g.load(comp + "/" + key + "." + tag, m, dt);
                        double err = Fixtures.relL2(ours, ref);
                        assertTrue(err <= (dt == DataType.FLOAT64 ? 1e-6 : 1e-4), file + " " + key + " " + tag + ": "
                                + err);
                        // the update is there: the merged tensor differs from the base
                        assertTrue(Fixtures.relL2(base.get(key, m, dt, shape), ref) > 1e-3, key);
                    }
                    checked++;
                }
                assertTrue(patched.unappliedPatches().isEmpty(), patched.unappliedPatches().toString());
            }
            assertEquals(8, checked);
        }
    }

    @Test
    void kohyaMergesAsDiffusersAndPeft() throws IOException {
        checkAgainstGolden("kohya.safetensors");
    }

    @Test
    void peftKeysMergeTheSame() throws IOException {
        checkAgainstGolden("peft.safetensors");
    }

    @Test
    void kohyaNamesResolveToTheKeysDiffusersGives() throws IOException {
        try (LoraFile lora = LoraFile.open(golden.resolve("kohya.safetensors"), shapes)) {
            String keys = Files.readString(golden.resolve("keys.json"));
            for (LoraFile.Update u : lora.updates()) {
                String peft = u.component() + "." + (u.component().equals(LoraFile.TEXT_ENCODER) ? "text_model." : "")
                        + u.target().replace(".weight", ".lora_A.weight");
                assertTrue(keys.contains("\"" + u.down() + "\": \"" + peft + "\""), u.down() + " -> " + peft);
                assertEquals(0.5, u.scale(), 0.0); // alpha 1 / rank 2
            }
            assertEquals(8, lora.updates().size());
        }
    }

    @Test
    void aModelBuiltFromPatchedWeightsTakesEveryUpdateAndTheFileStaysPristine() throws IOException {
        try (LoraFile lora = LoraFile.open(golden.resolve("kohya.safetensors"), shapes);
             NDManager m = NDManager.newBaseManager()) {
            Weights patched = unet.withPatches(patches(lora, LoraFile.UNET, 0.7));
            UNetConfig cfg = UNetConfig.from(JsonConfig.read(Fixtures.model().resolve("unet/config.json")));
            new UNet2DConditionModel(cfg, patched, ComputeContext.cpu(), 0).close();
            assertTrue(patched.unappliedPatches().isEmpty(), patched.unappliedPatches().toString());
            String k = "down_blocks.0.resnets.0.conv1.weight";
            try (Safetensors f = Safetensors.open(Fixtures.model().resolve("unet/diffusion_pytorch_model.safetensors"))) {
                byte[] stored = new byte[f.raw(k).remaining()];
                f.raw(k).get(stored);
                assertArrayEquals(stored, unet.get(k, m, DataType.FLOAT32, unet.shapeOf(k)).toByteArray());
            }
        }
    }

    private Path write(String name, SafetensorsWriter w) throws IOException {
        Path p = tmp.resolve(name + ".safetensors");
        w.write(p);
        return p;
    }

    private void refused(Path p, String... parts) {
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> LoraFile.open(p, shapes).close());
        for (String s : parts) {
            assertTrue(e.getMessage().contains(s), "'" + s + "' missing from: " + e.getMessage());
        }
    }

    @Test
    void badLoraFilesAreRefusedNamingFileAndKey() throws IOException {
        String q = "lora_unet_down_blocks_0_attentions_0_transformer_blocks_0_attn1_to_q";
        long[] w = unet.shapeOf("down_blocks.0.attentions.0.transformer_blocks.0.attn1.to_q.weight");
        float[] down = new float[(int) (2 * w[1])];
        float[] up = new float[(int) (w[0] * 2)];
        refused(write("unknown", new SafetensorsWriter().put(q + ".lora_down.weight", new long[] {2, w[1]}, down)
                .put(q + ".lora_up.weight", new long[] {w[0], 2}, up)
                .put(q + ".dora_scale", new long[] {w[0], 1}, new float[(int) w[0]])),
                "unknown.safetensors", q + ".dora_scale");
        // an SDXL-sized module name: not in this model
        String other = "lora_unet_down_blocks_3_attentions_1_transformer_blocks_9_attn1_to_q";
        refused(write("other", new SafetensorsWriter().put(other + ".lora_down.weight", new long[] {2, 640}, new float[1280])
                .put(other + ".lora_up.weight", new long[] {640, 2}, new float[1280])),
                "other.safetensors", other, "another architecture");
        // right module, wrong width (a LoRA trained for a wider model)
        refused(write("wide", new SafetensorsWriter().put(q + ".lora_down.weight", new long[] {2, 768}, new float[1536])
                .put(q + ".lora_up.weight", new long[] {w[0], 2}, up)), "wide.safetensors", q + ".lora_down.weight",
                "does not fit");
        refused(write("halves", new SafetensorsWriter().put(q + ".lora_down.weight", new long[] {2, w[1]}, down)),
                "halves.safetensors", "no up weight");
    }
}
