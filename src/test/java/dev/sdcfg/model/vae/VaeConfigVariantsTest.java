package dev.sdcfg.model.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.Fixtures;
import dev.sdcfg.testutil.SafetensorsWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Config values other than the tiny model's. The checkpoint key set is written here from diffusers' module
 * structure (independently of the model code); loading is strict (no missing and no unconsumed tensor), so a
 * successful load shows the model builds exactly diffusers' modules for that config.
 */
class VaeConfigVariantsTest {

    /** diffusers' AutoencoderKL state-dict keys and shapes for a config. */
    static Map<String, long[]> diffusersKeys(int in, int out, int latent, int[] ch, int layers, boolean attn,
                                             boolean quant, boolean postQuant) {
        Map<String, long[]> k = new LinkedHashMap<>();
        int n = ch.length;
        conv(k, "encoder.conv_in", ch[0], in, 3);
        int prev = ch[0];
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < layers; j++) {
                resnet(k, "encoder.down_blocks." + i + ".resnets." + j, j == 0 ? prev : ch[i], ch[i]);
            }
            if (i < n - 1) {
                conv(k, "encoder.down_blocks." + i + ".downsamplers.0.conv", ch[i], ch[i], 3);
            }
            prev = ch[i];
        }
        mid(k, "encoder.mid_block", ch[n - 1], attn);
        norm(k, "encoder.conv_norm_out", ch[n - 1]);
        conv(k, "encoder.conv_out", 2 * latent, ch[n - 1], 3);
        if (quant) {
            conv(k, "quant_conv", 2 * latent, 2 * latent, 1);
        }
        if (postQuant) {
            conv(k, "post_quant_conv", latent, latent, 1);
        }
        conv(k, "decoder.conv_in", ch[n - 1], latent, 3);
        mid(k, "decoder.mid_block", ch[n - 1], attn);
        prev = ch[n - 1];
        for (int i = 0; i < n; i++) {
            int c = ch[n - 1 - i];
            for (int j = 0; j < layers + 1; j++) {
                resnet(k, "decoder.up_blocks." + i + ".resnets." + j, j == 0 ? prev : c, c);
            }
            if (i < n - 1) {
                conv(k, "decoder.up_blocks." + i + ".upsamplers.0.conv", c, c, 3);
            }
            prev = c;
        }
        norm(k, "decoder.conv_norm_out", ch[0]);
        conv(k, "decoder.conv_out", out, ch[0], 3);
        return k;
    }

    private static void conv(Map<String, long[]> k, String p, long o, long i, long ks) {
        k.put(p + ".weight", new long[] {o, i, ks, ks});
        k.put(p + ".bias", new long[] {o});
    }

    private static void norm(Map<String, long[]> k, String p, long c) {
        k.put(p + ".weight", new long[] {c});
        k.put(p + ".bias", new long[] {c});
    }

    private static void resnet(Map<String, long[]> k, String p, long i, long o) {
        norm(k, p + ".norm1", i);
        conv(k, p + ".conv1", o, i, 3);
        norm(k, p + ".norm2", o);
        conv(k, p + ".conv2", o, o, 3);
        if (i != o) {
            conv(k, p + ".conv_shortcut", o, i, 1);
        }
    }

    private static void mid(Map<String, long[]> k, String p, long c, boolean attn) {
        resnet(k, p + ".resnets.0", c, c);
        if (attn) {
            norm(k, p + ".attentions.0.group_norm", c);
            for (String proj : new String[] {"to_q", "to_k", "to_v", "to_out.0"}) {
                k.put(p + ".attentions.0." + proj + ".weight", new long[] {c, c});
                k.put(p + ".attentions.0." + proj + ".bias", new long[] {c});
            }
        }
        resnet(k, p + ".resnets.1", c, c);
    }

    private static Path writeVae(Path dir, JsonObject config, Map<String, long[]> keys) throws IOException {
        Path vae = Files.createDirectories(dir.resolve("vae"));
        Files.writeString(vae.resolve("config.json"), config.toString(), StandardCharsets.UTF_8);
        Random r = new Random(42);
        SafetensorsWriter w = new SafetensorsWriter();
        for (Map.Entry<String, long[]> e : keys.entrySet()) {
            long numel = 1;
            for (long d : e.getValue()) {
                numel *= d;
            }
            boolean normWeight = e.getKey().contains("norm") && e.getKey().endsWith(".weight");
            float[] values = new float[(int) numel];
            for (int i = 0; i < values.length; i++) {
                values[i] = (normWeight ? 1f : 0f) + 0.1f * (float) r.nextGaussian();
            }
            w.put(e.getKey(), e.getValue(), values);
        }
        w.write(vae.resolve("diffusion_pytorch_model.safetensors"));
        return vae;
    }

    private static JsonArray ints(int... v) {
        JsonArray a = new JsonArray();
        for (int x : v) {
            a.add(x);
        }
        return a;
    }

    private static JsonArray repeat(String s, int n) {
        JsonArray a = new JsonArray();
        for (int i = 0; i < n; i++) {
            a.add(s);
        }
        return a;
    }

    @ParameterizedTest(name = "channels {0}, layers {1}, latent {2}, groups {3}, attention {4}, quant {5}/{6}")
    @CsvSource({
            "8 16, 1, 16, 4, false, false, false",
            "8 8 16, 3, 4, 8, true, true, false",
            "16, 2, 3, 2, true, false, true",
    })
    void otherConfigsLoadStrictlyAndDecodeToTheRightShape(String channels, int layers, int latent, int groups,
                                                          boolean attn, boolean quant, boolean postQuant,
                                                          @TempDir Path tmp) throws IOException {
        int[] ch = java.util.Arrays.stream(channels.split(" ")).mapToInt(Integer::parseInt).toArray();
        JsonObject c = new JsonObject();
        c.addProperty("_class_name", "AutoencoderKL");
        c.add("block_out_channels", ints(ch));
        c.add("down_block_types", repeat("DownEncoderBlock2D", ch.length));
        c.add("up_block_types", repeat("UpDecoderBlock2D", ch.length));
        c.addProperty("layers_per_block", layers);
        c.addProperty("latent_channels", latent);
        c.addProperty("norm_num_groups", groups);
        c.addProperty("mid_block_add_attention", attn);
        c.addProperty("use_quant_conv", quant);
        c.addProperty("use_post_quant_conv", postQuant);
        c.addProperty("in_channels", 3);
        c.addProperty("out_channels", 3);
        c.addProperty("scaling_factor", 0.5);
        Path vae = writeVae(tmp, c, diffusersKeys(3, 3, latent, ch, layers, attn, quant, postQuant));
        try (NDManager m = DjlRuntime.engine().newBaseManager();
             AutoencoderKL model = AutoencoderKL.load(vae, ComputeContext.cpu(), null)) {
            int f = 1 << (ch.length - 1);
            assertEquals(f, model.downscaleFactor());
            Map<String, Shape> seen = new LinkedHashMap<>();
            NDArray img = model.decode(m.randomNormal(new Shape(1, latent, 3, 5)), (k, x) -> seen.put(k, x.getShape()));
            assertEquals(new Shape(1, 3, 3L * f, 5L * f), img.getShape());
            assertTrue(img.isNaN().none().getBoolean());
            assertEquals(postQuant, seen.containsKey("post_quant_conv"));
            assertEquals(attn, seen.containsKey("decoder.mid_block.attentions.0"));
            assertTrue(seen.containsKey("decoder.up_blocks." + (ch.length - 1) + ".resnets." + layers));
            NDArray moments = model.encodeMoments(m.randomUniform(-1f, 1f, new Shape(2, 3, 2L * f, 3L * f)));
            assertEquals(new Shape(2, 2L * latent, 2, 3), moments.getShape());
        }
    }

    /** With use_post_quant_conv / use_quant_conv off, the decoder / encoder are the same modules without them. */
    @Test
    void quantConvsOffSkipExactlyThoseConvs(@TempDir Path tmp) throws IOException {
        Path src = Fixtures.model().resolve("vae");
        JsonObject cfg = JsonParser.parseString(Files.readString(src.resolve("config.json"))).getAsJsonObject();
        cfg.addProperty("use_quant_conv", false);
        cfg.addProperty("use_post_quant_conv", false);
        Path dir = Files.createDirectories(tmp.resolve("vae"));
        Files.writeString(dir.resolve("config.json"), cfg.toString(), StandardCharsets.UTF_8);
        SafetensorsWriter w = new SafetensorsWriter();
        try (Safetensors st = Safetensors.open(src.resolve("diffusion_pytorch_model.safetensors"))) {
            for (String k : st.keys()) {
                if (!k.startsWith("quant_conv.") && !k.startsWith("post_quant_conv.")) {
                    w.copy(st, k, k, st.info(k).shape());
                }
            }
        }
        w.write(dir.resolve("diffusion_pytorch_model.safetensors"));
        try (NDManager m = DjlRuntime.engine().newBaseManager();
             AutoencoderKL full = AutoencoderKL.load(src, ComputeContext.cpu(DataType.FLOAT64), null);
             AutoencoderKL bare = AutoencoderKL.load(dir, ComputeContext.cpu(DataType.FLOAT64), null)) {
            NDArray z = m.randomNormal(new Shape(1, 4, 4, 6)).toType(DataType.FLOAT64, false);
            NDArray[] afterPqc = new NDArray[1];
            NDArray decoded = full.decode(z, (k, x) -> {
                if (k.equals("post_quant_conv")) {
                    afterPqc[0] = x.duplicate();
                    ai.djl.ndarray.NDScope.unregister(afterPqc[0]);
                }
            });
            assertArrayEquals(decoded.toDoubleArray(), bare.decode(afterPqc[0]).toDoubleArray(), 0.0);
            NDArray image = m.randomUniform(-1f, 1f, new Shape(1, 3, 32, 48)).toType(DataType.FLOAT64, false);
            double[][] encOut = new double[1][];
            full.encodeMoments(image, (k, x) -> {
                if (k.equals("encoder.conv_out")) {
                    encOut[0] = x.toDoubleArray();
                }
            });
            assertArrayEquals(encOut[0], bare.encodeMoments(image).toDoubleArray(), 0.0);
        }
    }
}
