package dev.sdcfg.testutil;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.model.io.Safetensors;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The tiny model as a single-file checkpoint in the original LDM layout, written from the golden of
 * {@code tools/singlefile-goldens} (what diffusers' convert_diffusers_to_original_stable_diffusion.py makes of the
 * demo model), with the sidecar stating what its weights cannot tell.
 */
public final class LdmFixture {

    /** What the tiny model's weights cannot tell and differs from SD 1.x (whose values are the defaults). */
    public static final String SIDECAR = "{\"unet\": {\"norm_num_groups\": 8, \"sample_size\": 16},"
            + " \"vae\": {\"norm_num_groups\": 8, \"sample_size\": 128},"
            + " \"text_encoder\": {\"num_attention_heads\": 4}}";

    private LdmFixture() {
    }

    public static JsonObject golden() throws IOException {
        return JsonParser.parseString(Files.readString(
                Fixtures.resource("parity-extra/singlefile").resolve("sd1_conversion.json"))).getAsJsonObject();
    }

    /** Writes {@code dir/NAME.safetensors} and its sidecar {@code dir/NAME.json}; returns the checkpoint. */
    public static Path write(Path dir, String name) throws IOException {
        Path out = dir.resolve(name + ".safetensors");
        writeLdm(out, golden().getAsJsonObject("ldm"));
        Files.writeString(dir.resolve(name + ".json"), SIDECAR);
        return out;
    }

    /** The golden's LDM tensors, each the raw bytes of the demo model's tensor it came from. */
    public static void writeLdm(Path out, JsonObject ldm) throws IOException {
        Path model = Fixtures.model();
        Map<String, Safetensors> comps = new HashMap<>();
        comps.put("unet", Safetensors.open(model.resolve("unet/diffusion_pytorch_model.safetensors")));
        comps.put("vae", Safetensors.open(model.resolve("vae/diffusion_pytorch_model.safetensors")));
        comps.put("text_encoder", Safetensors.open(model.resolve("text_encoder/model.safetensors")));
        try {
            SafetensorsWriter w = new SafetensorsWriter();
            for (Map.Entry<String, JsonElement> e : new TreeMap<>(ldm.asMap()).entrySet()) {
                JsonObject t = e.getValue().getAsJsonObject();
                String from = t.get("from").getAsString();
                int slash = from.indexOf('/');
                w.copy(comps.get(from.substring(0, slash)), from.substring(slash + 1), e.getKey(), shape(t));
            }
            w.write(out);
        } finally {
            for (Safetensors s : comps.values()) {
                s.close();
            }
        }
        // the file holds what diffusers' reverse script wrote: same keys, shapes and bytes
        try (Safetensors f = Safetensors.open(out)) {
            assertEquals(new TreeSet<>(ldm.keySet()), new TreeSet<>(f.keys()));
            for (String k : f.keys()) {
                JsonObject t = ldm.getAsJsonObject(k);
                assertArrayEquals(shape(t), f.info(k).shape(), k);
                assertEquals(t.get("sha256").getAsString(), sha256(f.raw(k)), k);
            }
        }
    }

    public static long[] shape(JsonObject t) {
        return t.getAsJsonArray("shape").asList().stream().mapToLong(JsonElement::getAsLong).toArray();
    }

    public static String sha256(ByteBuffer b) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            md.update(b.duplicate());
            return HexFormat.of().formatHex(md.digest());
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
