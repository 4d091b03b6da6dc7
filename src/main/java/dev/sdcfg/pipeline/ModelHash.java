package dev.sdcfg.pipeline;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * The infotext's {@code Model hash}: the first 10 hex digits of the SHA-256 of the UNet's safetensors file(s) (the
 * variant's when one is configured and present), in file-name order. A1111 hashes a single-file checkpoint the same
 * way (its "AutoV2" short hash), but a diffusers folder has no such file, so the value identifies these weights
 * without matching the hash A1111 shows for a checkpoint of the same model.
 */
final class ModelHash {

    private ModelHash() {
    }

    /** The hash, or null when the folder has no UNet safetensors or they cannot be read. */
    static String of(Path modelRoot, String variant) {
        if (modelRoot == null) {
            return null;
        }
        Path unet = modelRoot.resolve("unet");
        List<Path> plain = new ArrayList<>();
        List<Path> variantFiles = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(unet, "*.safetensors")) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                boolean isVariant = variant != null && n.endsWith("." + variant + ".safetensors");
                (isVariant ? variantFiles : plain).add(p);
            }
        } catch (IOException e) {
            return null;
        }
        List<Path> files = variantFiles.isEmpty() ? plain : variantFiles;
        if (files.isEmpty()) {
            return null;
        }
        files.sort(null);
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 20];
            for (Path f : files) {
                try (InputStream in = Files.newInputStream(f)) {
                    for (int n; (n = in.read(buf)) > 0; ) {
                        sha.update(buf, 0, n);
                    }
                }
            }
            return HexFormat.of().formatHex(sha.digest()).substring(0, 10);
        } catch (IOException | NoSuchAlgorithmException e) {
            return null;
        }
    }
}
