package dev.sdcfg.api;

import dev.sdcfg.testutil.LdmFixture;
import io.quarkus.test.junit.QuarkusTestProfile;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** A models folder with the tiny model as a single-file checkpoint ("tiny") and as a diffusers folder ("folder"). */
public class ModelsFolderProfile implements QuarkusTestProfile {

    static Path dir;
    static Path loras;
    static Path embeddings;

    @Override
    public Map<String, String> getConfigOverrides() {
        try {
            if (dir == null) {
                dir = Files.createTempDirectory("models-api-");
                dir.toFile().deleteOnExit();
                Path folder = dir.resolve("folder");
                Path model = dev.sdcfg.testutil.Fixtures.model();
                try (var s = Files.walk(model)) {
                    for (Path p : s.toList()) {
                        Path t = folder.resolve(model.relativize(p).toString());
                        if (Files.isDirectory(p)) {
                            Files.createDirectories(t);
                        } else {
                            Files.copy(p, t);
                        }
                        t.toFile().deleteOnExit();
                    }
                }
                Path f = LdmFixture.write(dir, "tiny");
                f.toFile().deleteOnExit();
                dir.resolve("tiny.json").toFile().deleteOnExit();
                loras = Files.createTempDirectory("loras-api-");
                loras.toFile().deleteOnExit();
                Path k = loras.resolve("pixel.safetensors");
                Files.copy(dev.sdcfg.testutil.Fixtures.resource("parity-extra/lora").resolve("kohya.safetensors"), k);
                k.toFile().deleteOnExit();
                embeddings = Files.createTempDirectory("embeddings-api-");
                embeddings.toFile().deleteOnExit();
                Path ti = embeddings.resolve("tiny-ti.safetensors");
                Files.copy(dev.sdcfg.testutil.Fixtures.resource("parity-extra/ti").resolve("tiny-ti.safetensors"), ti);
                // one vector 16 wide under emb_params (the demo encoder is 32 wide), and a file that is no safetensors
                String header = "{\"emb_params\":{\"dtype\":\"F32\",\"shape\":[1,16],\"data_offsets\":[0,64]}}";
                java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(8 + header.length() + 64)
                        .order(java.nio.ByteOrder.LITTLE_ENDIAN);
                b.putLong(header.length()).put(header.getBytes(java.nio.charset.StandardCharsets.US_ASCII));
                Files.write(embeddings.resolve("narrow.safetensors"), b.array());
                Files.writeString(embeddings.resolve("broken.safetensors"), "not a safetensors file");
                for (String n : List.of("tiny-ti", "narrow", "broken")) {
                    embeddings.resolve(n + ".safetensors").toFile().deleteOnExit();
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Map.of("sd.models.dir", dir.toString(), "sd.models.default", "folder", "sd.loras.dir", loras.toString(),
                "sd.embeddings.dir", embeddings.toString());
    }
}
