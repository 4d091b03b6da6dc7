package dev.sdcfg.model;


import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * The embedded demo model: a tiny Stable Diffusion (diffusers layout, 64x64 images from 16x16x4 latents) trained by
 * the project on the procedural scenes of tools/demo-model (coloured shapes on coloured backgrounds, captioned
 * "a red circle on a blue background"), shipped in the classpath resources {@code demo-model/} so that the service
 * starts on a fresh machine with nothing configured and draws what such prompts ask. The random-weights model the
 * parity goldens were computed on lives in the test resources ({@code random-model/}). Inside a jar the resources
 * cannot be opened as a folder, so {@link #extract()} copies them to a temporary folder first.
 */
public final class EmbeddedDemoModel {

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

    private EmbeddedDemoModel() {
    }

    /**
     * A folder holding the demo model: the build tree's own resources folder when running from it (tools, tests),
     * else a fresh extraction.
     */
    public static Path folder() {
        java.net.URL index = EmbeddedDemoModel.class.getClassLoader().getResource(RESOURCE_ROOT + "/model_index.json");
        if (index != null && "file".equals(index.getProtocol())) {
            try {
                return Path.of(index.toURI()).getParent();
            } catch (java.net.URISyntaxException e) {
                throw new ModelLoadException("cannot locate the embedded demo model: " + e.getMessage(), e);
            }
        }
        return extract();
    }

    /** Copies the demo model to a new temporary folder (deleted when the JVM exits) and returns it. */
    public static Path extract() {
        try {
            Path dir = Files.createTempDirectory("sd-demo-model-");
            dir.toFile().deleteOnExit();
            extractTo(dir);
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract the demo model", e);
        }
    }

    /** Copies the demo model into {@code dir} (which must exist). */
    public static void extractTo(Path dir) throws IOException {
        ClassLoader cl = Thread.currentThread().getContextClassLoader();
        if (cl == null) {
            cl = EmbeddedDemoModel.class.getClassLoader();
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
            in = EmbeddedDemoModel.class.getClassLoader().getResourceAsStream(resource);
        }
        if (in == null) {
            throw new ModelLoadException("the embedded demo model is incomplete: resource " + resource + " is missing");
        }
        return in;
    }
}
