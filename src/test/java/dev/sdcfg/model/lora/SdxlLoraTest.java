package dev.sdcfg.model.lora;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sdcfg.guidance.GuidanceSpec;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.model.io.Weights;
import dev.sdcfg.pipeline.CheckpointLoader;
import dev.sdcfg.pipeline.GenerationListener;
import dev.sdcfg.pipeline.GenerationRequest;
import dev.sdcfg.pipeline.LoraWeight;
import dev.sdcfg.pipeline.PipelineOptions;
import dev.sdcfg.pipeline.StableDiffusionPipeline;
import dev.sdcfg.pipeline.image.PngEncoder;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.Fixtures;
import dev.sdcfg.testutil.SafetensorsWriter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SDXL LoRAs against diffusers' own SDXL kohya conversion and PEFT's merge formula ({@code tools/lora-goldens},
 * {@code gen_lora_sdxl.py}) on the tiny SDXL folder: kohya's SDXL form (sgm UNet names {@code lora_unet_input_blocks_…},
 * {@code lora_te1_}, {@code lora_te2_}) and the same update in diffusers/PEFT keys ({@code text_encoder_2.…}) give the
 * golden merged weights of all three components (fp64 and fp32), resolve to the modules diffusers maps them to, and
 * change the pipeline's image, after which the base draws bit for bit what a fresh load draws.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SdxlLoraTest {

    private Path golden;
    private Path model;
    private Map<String, Weights> weights;
    private Map<String, Map<String, long[]>> shapes;
    private Path tmp;

    @BeforeAll
    void open() throws IOException {
        DjlRuntime.engine();
        golden = Fixtures.resource("parity-extra/lora/sdxl");
        model = Fixtures.resource("parity-extra/sdxl/model");
        weights = new LinkedHashMap<>();
        weights.put(LoraFile.UNET, Weights.openComponent(model.resolve("unet"), null));
        weights.put(LoraFile.TEXT_ENCODER, Weights.openComponent(model.resolve("text_encoder"), null));
        weights.put(LoraFile.TEXT_ENCODER_2, Weights.openComponent(model.resolve("text_encoder_2"), null));
        shapes = new LinkedHashMap<>();
        weights.forEach((c, w) -> shapes.put(c, LoraFileTest.shapesOf(w)));
        tmp = Files.createTempDirectory("sdxl-lora-");
    }

    @AfterAll
    void close() throws IOException {
        weights.values().forEach(Weights::close);
        try (var s = Files.list(tmp)) {
            for (Path p : s.toList()) {
                Files.deleteIfExists(p);
            }
        }
        Files.deleteIfExists(tmp);
    }

    private void checkAgainstGolden(String file) throws IOException {
        try (LoraFile lora = LoraFile.open(golden.resolve(file), shapes);
             Safetensors g = Safetensors.open(golden.resolve("golden.safetensors"));
             NDManager m = NDManager.newBaseManager()) {
            int checked = 0;
            for (String comp : weights.keySet()) {
                Map<String, List<Weights.Patch>> lists = new LinkedHashMap<>();
                lora.addPatches(comp, 0.7, lists);
                Weights base = weights.get(comp);
                Weights patched = base.withPatches(LoraFile.combine(lists));
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
                        assertTrue(err <= (dt == DataType.FLOAT64 ? 1e-6 : 1e-4), file + " " + comp + "/" + key + " "
                                + tag + ": " + err);
                        assertTrue(Fixtures.relL2(base.get(key, m, dt, shape), ref) > 1e-3, key);
                    }
                    checked++;
                }
                // every update of the file was one of the golden's tensors
                assertTrue(patched.unappliedPatches().isEmpty(), patched.unappliedPatches().toString());
            }
            assertEquals(13, checked); // 6 UNet (sgm names), 3 text_encoder, 4 text_encoder_2
        }
    }

    @Test
    void kohyaSdxlMergesAsDiffusersAndPeft() throws IOException {
        checkAgainstGolden("kohya.safetensors");
    }

    @Test
    void diffusersKeysForTextEncoder2MergeTheSame() throws IOException {
        checkAgainstGolden("peft.safetensors");
    }

    @Test
    void kohyaNamesResolveToTheModulesDiffusersMapsThemTo() throws IOException {
        try (LoraFile lora = LoraFile.open(golden.resolve("kohya.safetensors"), shapes)) {
            String keys = Files.readString(golden.resolve("keys.json"));
            for (LoraFile.Update u : lora.updates()) {
                String peft = u.component() + "." + u.target().replace(".weight", ".lora_A.weight");
                assertTrue(keys.contains("\"" + u.down() + "\": \"" + peft + "\""), u.down() + " -> " + peft);
                assertEquals(0.5, u.scale(), 0.0); // alpha 1 / rank 2
            }
            assertEquals(13, lora.updates().size());
            assertEquals(List.of(LoraFile.TEXT_ENCODER, LoraFile.TEXT_ENCODER_2, LoraFile.UNET),
                    List.copyOf(lora.components()));
        }
    }

    @Test
    void aTextEncoder2LoraOnAModelWithoutOneIsRefused() throws IOException {
        String q = "lora_te2_text_model_encoder_layers_0_self_attn_q_proj";
        Path p = tmp.resolve("te2.safetensors");
        new SafetensorsWriter().put(q + ".lora_down.weight", new long[] {2, 40}, new float[80])
                .put(q + ".lora_up.weight", new long[] {40, 2}, new float[80]).write(p);
        Map<String, Map<String, long[]>> sd = Map.of(LoraFile.UNET, shapes.get(LoraFile.UNET),
                LoraFile.TEXT_ENCODER, shapes.get(LoraFile.TEXT_ENCODER));
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> LoraFile.open(p, sd).close());
        assertTrue(e.getMessage().contains("te2.safetensors") && e.getMessage().contains("text_encoder_2"),
                e.getMessage());
    }

    private int[] draw(List<LoraWeight> set) {
        GenerationRequest req = new GenerationRequest("a watercolor painting of a lighthouse", "blurry", 64, 48, 3,
                null, null, GuidanceSpec.parse("5"), 7L, 1);
        try (StableDiffusionPipeline p = CheckpointLoader.load(model, ComputeContext.cpu(), PipelineOptions.defaults(),
                set, name -> golden.resolve(name + ".safetensors"))) {
            assertTrue(p.sdxlTokenizer2() != null);
            BufferedImage img = PngEncoder.decode(p.generate(req, GenerationListener.NONE).images().get(0).png());
            return img.getRGB(0, 0, 64, 48, null, 0, 64);
        }
    }

    @Test
    void aKohyaSdxlLoraChangesTheImageAndLeavesTheBaseIntact() {
        int[] base = draw(List.of());
        int[] kohya = draw(List.of(new LoraWeight("kohya", 0.7)));
        int[] peft = draw(List.of(new LoraWeight("peft", 0.7)));
        assertFalse(Arrays.equals(base, kohya));
        // the two files hold the same update (alpha/r folded into lora_B in one): within one 8-bit level
        for (int i = 0; i < kohya.length; i++) {
            for (int shift = 0; shift < 24; shift += 8) {
                int a = (kohya[i] >> shift) & 0xFF;
                int b = (peft[i] >> shift) & 0xFF;
                assertTrue(Math.abs(a - b) <= 1, "pixel " + i + ": " + a + " vs " + b);
            }
        }
        assertArrayEquals(base, draw(List.of()));
    }
}
