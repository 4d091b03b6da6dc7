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
        return golden("sd1_conversion.json");
    }

    /** A golden of tools/singlefile-goldens ({@code parity-extra/singlefile/NAME}). */
    public static JsonObject golden(String name) throws IOException {
        return JsonParser.parseString(Files.readString(
                Fixtures.resource("parity-extra/singlefile").resolve(name))).getAsJsonObject();
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
        writeLdm(out, ldm, Map.of("unet", model.resolve("unet/diffusion_pytorch_model.safetensors"),
                "vae", model.resolve("vae/diffusion_pytorch_model.safetensors"),
                "text_encoder", model.resolve("text_encoder/model.safetensors")));
    }

    /**
     * Writes the golden's LDM tensors from the component files {@code files} (component name → safetensors file):
     * each is the raw bytes of the folder tensor(s) named by {@code from} ("component/key", or a list of them),
     * with {@code op} "cat" (the tensors' rows concatenated: OpenCLIP's fused q/k/v) or "t" (the 2-D transpose:
     * OpenCLIP's text_projection) applied to the bytes. The written file is checked against the golden's hashes.
     */
    public static void writeLdm(Path out, JsonObject ldm, Map<String, Path> files) throws IOException {
        Map<String, Safetensors> comps = new HashMap<>();
        try {
            for (Map.Entry<String, Path> e : files.entrySet()) {
                comps.put(e.getKey(), Safetensors.open(e.getValue()));
            }
            SafetensorsWriter w = new SafetensorsWriter();
            for (Map.Entry<String, JsonElement> e : new TreeMap<>(ldm.asMap()).entrySet()) {
                JsonObject t = e.getValue().getAsJsonObject();
                JsonElement from = t.get("from");
                java.util.List<String> sources = from.isJsonArray()
                        ? from.getAsJsonArray().asList().stream().map(JsonElement::getAsString).toList()
                        : java.util.List.of(from.getAsString());
                java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
                String dtype = null;
                long[] first = null;
                for (String src : sources) {
                    int slash = src.indexOf('/');
                    Safetensors f = comps.get(src.substring(0, slash));
                    String key = src.substring(slash + 1);
                    ByteBuffer raw = f.raw(key);
                    byte[] b = new byte[raw.remaining()];
                    raw.get(b);
                    bytes.write(b);
                    dtype = f.info(key).dtype();
                    first = f.info(key).shape();
                }
                byte[] data = bytes.toByteArray();
                String op = t.has("op") ? t.get("op").getAsString() : "";
                if (op.equals("t")) {
                    data = transpose(data, (int) first[0], (int) first[1], data.length / (int) (first[0] * first[1]));
                } else if (!op.isEmpty() && !op.equals("cat")) {
                    throw new IllegalArgumentException(e.getKey() + ": unknown op " + op);
                }
                w.add(e.getKey(), dtype, shape(t), data);
            }
            w.write(out);
        } finally {
            for (Safetensors c : comps.values()) {
                c.close();
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

    private static byte[] transpose(byte[] src, int rows, int cols, int elem) {
        byte[] out = new byte[src.length];
        int i = 0;
        for (int c = 0; c < cols; c++) {
            for (int r = 0; r < rows; r++) {
                System.arraycopy(src, (r * cols + c) * elem, out, i, elem);
                i += elem;
            }
        }
        return out;
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
