package dev.sdcfg.model;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.List;

/**
 * The tiny Stable Diffusion shipped in the classpath under {@code demo-model/}: real CLIP vocabulary, RANDOM
 * weights (it produces noise; it exists so the API and tools work without a download). Served from the build
 * tree as a folder, or extracted from the jar to a temporary folder (weights must be files to be mapped).
 */
public final class EmbeddedDemoModel {

    public static final String RESOURCE_ROOT = "demo-model";

    /** Every file of the demo model, relative to its root. */
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

    private static Path extracted;

    private EmbeddedDemoModel() {
    }

    /** A folder holding the demo model (the build tree's, or a one-time extraction of the jar's). */
    public static synchronized Path folder() {
        ClassLoader cl = EmbeddedDemoModel.class.getClassLoader();
        URL index = cl.getResource(RESOURCE_ROOT + "/model_index.json");
        if (index == null) {
            throw new ModelLoadException("the embedded demo model is missing from the classpath");
        }
        if ("file".equals(index.getProtocol())) {
            try {
                return Paths.get(index.toURI()).getParent();
            } catch (URISyntaxException e) {
                throw new ModelLoadException("cannot locate the embedded demo model: " + e.getMessage(), e);
            }
        }
        if (extracted != null && Files.isRegularFile(extracted.resolve("model_index.json"))) {
            return extracted;
        }
        try {
            Path dir = Files.createTempDirectory("sd-demo-model-");
            for (String f : FILES) {
                try (InputStream in = cl.getResourceAsStream(RESOURCE_ROOT + "/" + f)) {
                    if (in == null) {
                        throw new ModelLoadException("embedded demo model file " + f + " is missing");
                    }
                    Path target = dir.resolve(f);
                    Files.createDirectories(target.getParent());
                    Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
                }
            }
            dir.toFile().deleteOnExit();
            extracted = dir;
            return dir;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot extract the embedded demo model", e);
        }
    }
}
