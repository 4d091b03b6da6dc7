package dev.sdcfg.model;

import dev.sdcfg.model.clip.ClipTextModel;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.model.unet.UNet2DConditionModel;
import dev.sdcfg.model.vae.AutoencoderKL;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.testutil.Fixtures;
import dev.sdcfg.testutil.SafetensorsWriter;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One loading policy for the three models: a checkpoint with a tensor the model does not read, or without one it
 * needs, fails the load with a message naming the file and the key. The altered checkpoints are copies of the
 * tiny model's, made here.
 */
class CheckpointPolicyTest {

    /** Each component, with a plausible stray tensor and a tensor the model needs (a bias: none is optional). */
    enum Component {
        UNET("unet", "diffusion_pytorch_model.safetensors", "add_embedding.linear_1.weight",
                "down_blocks.0.attentions.0.proj_in.bias"),
        VAE("vae", "diffusion_pytorch_model.safetensors", "decoder.mid_block.attentions.1.to_q.weight",
                "decoder.conv_out.bias"),
        TEXT_ENCODER("text_encoder", "model.safetensors", "text_projection.weight", "encoder.layers.0.mlp.fc1.bias");

        final String folder;
        final String file;
        final String extraKey;
        final String requiredKey;

        Component(String folder, String file, String extraKey, String requiredKey) {
            this.folder = folder;
            this.file = file;
            this.extraKey = extraKey;
            this.requiredKey = requiredKey;
        }

        void load(Path dir) {
            ComputeContext cpu = ComputeContext.cpu();
            switch (this) {
                case UNET -> UNet2DConditionModel.load(dir, cpu, null, 0).close();
                case VAE -> AutoencoderKL.load(dir, cpu, null).close();
                case TEXT_ENCODER -> ClipTextModel.load(dir, null, cpu).close();
            }
        }
    }

    /**
     * Copies the component's config and writes its checkpoint with {@code drop} left out and, when not null,
     * {@code add} added as a small F32 tensor; returns the component folder.
     */
    private static Path alteredCopy(Component c, Path tmp, String drop, String add) throws IOException {
        Path src = Fixtures.model().resolve(c.folder);
        Path out = Files.createDirectories(tmp.resolve(c.folder));
        Files.copy(src.resolve("config.json"), out.resolve("config.json"));
        SafetensorsWriter w = new SafetensorsWriter();
        int copied = 0;
        try (Safetensors st = Safetensors.open(src.resolve(c.file))) {
            assertTrue(st.contains(c.requiredKey), c.requiredKey + " is in the fixture");
            for (String k : st.keys()) {
                if (!k.equals(drop)) {
                    w.copy(st, k, k, st.info(k).shape());
                    copied++;
                }
            }
            assertEquals(st.keys().size() - (drop == null ? 0 : 1), copied);
        }
        if (add != null) {
            w.put(add, new long[] {2, 2}, new float[] {1f, 2f, 3f, 4f});
        }
        w.write(out.resolve(c.file));
        return out;
    }

    @ParameterizedTest
    @EnumSource(Component.class)
    void unalteredCopyLoads(Component c, @TempDir Path tmp) throws IOException {
        c.load(alteredCopy(c, tmp, null, null)); // the copying itself changes nothing the policy looks at
    }

    @ParameterizedTest
    @EnumSource(Component.class)
    void extraTensorFailsNamingFileAndKey(Component c, @TempDir Path tmp) throws IOException {
        Path dir = alteredCopy(c, tmp, null, c.extraKey);
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> c.load(dir));
        System.out.println("[policy] " + c + " extra: " + e.getMessage());
        assertTrue(e.getMessage().contains(dir.resolve(c.file).toString()), e.getMessage());
        assertTrue(e.getMessage().contains("'" + c.extraKey + "' is not used"), e.getMessage());
    }

    @ParameterizedTest
    @EnumSource(Component.class)
    void missingTensorFailsNamingFileAndKey(Component c, @TempDir Path tmp) throws IOException {
        Path dir = alteredCopy(c, tmp, c.requiredKey, null);
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> c.load(dir));
        System.out.println("[policy] " + c + " missing: " + e.getMessage());
        assertTrue(e.getMessage().contains(dir.resolve(c.file).toString()), e.getMessage());
        assertTrue(e.getMessage().contains("missing tensor '" + c.requiredKey + "'"), e.getMessage());
    }
}
