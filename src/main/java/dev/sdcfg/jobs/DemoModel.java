package dev.sdcfg.jobs;

import dev.sdcfg.model.ModelLoadException;
import org.jboss.logging.Logger;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * The embedded demo model: a tiny Stable Diffusion (diffusers layout) with RANDOM weights, shipped in the
 * classpath resources {@code demo-model/} so that the service starts on a fresh machine with nothing configured.
 * It exercises the whole API and produces noise, not pictures. Inside a jar the resources cannot be opened as a
 * folder, so {@link #extract()} copies them to a temporary folder first.
 */
public final class DemoModel {

    private static final Logger LOG = Logger.getLogger(DemoModel.class);

    public static final String RESOURCE_ROOT = "demo-model";

    /** Every file of the demo model (resources cannot be listed inside a jar); a test keeps this in sync. */
    public static final List<String> FILES = List.of(
            "model_index.json",
            "scheduler/scheduler_config.json",
            "text_encoder/config.json",
            "text_encoder/model.safetensors",
            "tokenizer/merges.txt",
            "tokenizer/tokenizer.json",
            "tokenizer/tokenizer_config.json",
            "tokenizer/vocab.json",
            "unet/config.json",
            "unet/diffusion_pytorch_model.safetensors",
            "vae/config.json",
            "vae/diffusion_pytorch_model.safetensors");

    private DemoModel() {
    }

    /** Copies the demo model to a new temporary folder (deleted when the JVM exits) and returns it. */
    public static Path extract() {
        try {
            Path dir = Files.createTempDirectory("sd-demo-model-");
            dir.toFile().deleteOnExit();
            extractTo(dir);
            LOG.warnf("No model folder configured (sd.model.path / SD_MODEL_PATH): using the EMBEDDED DEMO MODEL, "
                    + "a tiny Stable Diffusion with RANDOM WEIGHTS. It exercises the API but every image is noise. "
                    + "Extracted to %s. Set SD_MODEL_PATH to a diffusers SD 1.x/2.x folder for real images.", dir);
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract the demo model", e);
        }
    }

    /** Copies the demo model into {@code dir} (which must exist). */
    public static void extractTo(Path dir) throws IOException {
        ClassLoader cl = Thread.currentThread().getContextClassLoader();
        if (cl == null) {
            cl = DemoModel.class.getClassLoader();
        }
        for (String f : FILES) {
            Path target = dir.resolve(f);
            Files.createDirectories(target.getParent());
            target.getParent().toFile().deleteOnExit();
            try (InputStream in = open(cl, RESOURCE_ROOT + "/" + f)) {
                Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
            }
            target.toFile().deleteOnExit();
        }
    }

    private static InputStream open(ClassLoader cl, String resource) {
        InputStream in = cl.getResourceAsStream(resource);
        if (in == null) {
            in = DemoModel.class.getClassLoader().getResourceAsStream(resource);
        }
        if (in == null) {
            throw new ModelLoadException("the embedded demo model is incomplete: resource " + resource + " is missing");
        }
        return in;
    }
}
