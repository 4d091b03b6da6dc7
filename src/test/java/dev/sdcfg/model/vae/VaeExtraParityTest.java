package dev.sdcfg.model.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.ExtraGoldens;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * AutoencoderKL parity on extra configs (test resources {@code parity-extra/vae/<case>/}: config.json, weights,
 * {@code golden.safetensors}, notes.json), computed by diffusers' own AutoencoderKL source (tools/vae-goldens).
 * For each case, dtype (f64, f32) and run tag: {@link AutoencoderKL#decode} of {@code <tag>.latents} against
 * {@code <tag>.<d>.decoded}, {@link AutoencoderKL#encodeMoments} of {@code <tag>.image} against
 * {@code <tag>.<d>.encoder_moments}, its two channel halves against {@code latent_dist.mean} and
 * {@code latent_dist.logvar} (the logvar clamped to [−30, 20] as diffusers' DiagonalGaussianDistribution does), and
 * every recorded intermediate {@code <tag>.<d>.decode.<module>} / {@code encode.<module>} against our tap of the
 * same module path. Relative L2 must be below 1e-6 (fp64) / 1e-4 (fp32); every golden key of the run must be
 * checked. The config's {@code scaling_factor} and {@code shift_factor} (applied by the pipeline, not the VAE) must
 * be what {@link AutoencoderKL} reports.
 */
class VaeExtraParityTest {

    private static final Map<String, Double> WORST = new TreeMap<>();

    static Path root() {
        return ExtraGoldens.root("vae");
    }

    @TestFactory
    List<DynamicTest> parity() throws IOException {
        List<DynamicTest> tests = new ArrayList<>();
        for (Path dir : ExtraGoldens.cases("vae")) {
            List<String> tags = ExtraGoldens.tags(dir, ".f64.decoded");
            for (ExtraGoldens.Precision p : ExtraGoldens.PRECISIONS) {
                for (String tag : tags) {
                    String name = dir.getFileName() + " " + p.name() + " " + tag;
                    tests.add(DynamicTest.dynamicTest(name, () -> check(dir, name, tag, p.name(), p.dtype(), p.limit())));
                }
            }
            tests.add(DynamicTest.dynamicTest(dir.getFileName() + " config", () -> checkConfig(dir)));
        }
        return tests;
    }

    private static void check(Path dir, String name, String tag, String d, DataType dtype, double tol)
            throws IOException {
        String prefix = tag + "." + d + ".";
        Map<String, Double> errors = new LinkedHashMap<>();
        try (Safetensors st = Safetensors.open(dir.resolve("golden.safetensors"));
             NDManager m = NDManager.newBaseManager(DjlRuntime.engine().defaultDevice());
             AutoencoderKL vae = AutoencoderKL.load(dir, ComputeContext.cpu(dtype), null)) {
            Compare cmp = (key, ours) -> {
                if (!st.contains(prefix + key)) {
                    return;
                }
                try (NDArray want = st.load(prefix + key, m, dtype)) {
                    errors.put(key, Fixtures.relL2(ours, want));
                }
            };
            NDArray latents = st.load(tag + ".latents", m, dtype);
            NDArray decoded = vae.decode(latents, (k, x) -> cmp.unchecked("decode." + k, x));
            assertEquals(dtype, decoded.getDataType(), name + ": decoded dtype");
            cmp.accept("decoded", decoded);

            NDArray image = st.load(tag + ".image", m, dtype);
            NDArray moments = vae.encodeMoments(image, (k, x) -> cmp.unchecked("encode." + k, x));
            cmp.accept("encoder_moments", moments);
            long c = vae.latentChannels();
            assertEquals(2 * c, moments.getShape().get(1), name + ": moments channels");
            cmp.accept("latent_dist.mean", moments.get(":, 0:" + c));
            cmp.accept("latent_dist.logvar", moments.get(":, " + c + ":").clip(-30.0, 20.0));

            List<String> unchecked = new ArrayList<>();
            for (String k : new TreeSet<>(st.keys())) {
                if (k.startsWith(prefix) && !errors.containsKey(k.substring(prefix.length()))) {
                    unchecked.add(k);
                }
            }
            if (!unchecked.isEmpty()) {
                fail(name + ": golden keys the model did not produce: " + unchecked);
            }
        }
        for (String k : List.of("decoded", "encoder_moments", "latent_dist.mean", "latent_dist.logvar")) {
            assertTrue(errors.containsKey(k), name + ": golden lacks " + prefix + k);
        }
        ExtraGoldens.Verdict verdict = ExtraGoldens.judge(errors, tol);
        List<String> bad = verdict.overLimit();
        double worst = verdict.worst();
        String worstKey = verdict.worstKey();
        System.out.printf(Locale.ROOT, "[vae extra parity] %-34s decoded %.3e  moments %.3e  worst %.3e (%s) of %d%n",
                name, errors.get("decoded"), errors.get("encoder_moments"), worst, worstKey, errors.size());
        synchronized (WORST) {
            String key = dir.getFileName() + " " + d;
            WORST.merge(key + " decoded", errors.get("decoded"), Math::max);
            WORST.merge(key + " moments", errors.get("encoder_moments"), Math::max);
            WORST.merge(key + " any", worst, Math::max);
        }
        if (!bad.isEmpty()) {
            fail(name + ": relative L2 >= " + tol + " for " + bad + " (all: " + errors + ")");
        }
    }

    /** scaling_factor / shift_factor are recorded, not applied: the model must report the config's values. */
    private static void checkConfig(Path dir) throws IOException {
        JsonObject json = JsonParser.parseString(Files.readString(dir.resolve("config.json"))).getAsJsonObject();
        try (AutoencoderKL vae = AutoencoderKL.load(dir, ComputeContext.cpu(DataType.FLOAT32), null)) {
            assertEquals(json.get("scaling_factor").getAsDouble(), vae.scalingFactor(), 0.0, dir + " scaling_factor");
            boolean hasShift = json.has("shift_factor") && !json.get("shift_factor").isJsonNull();
            assertEquals(hasShift ? json.get("shift_factor").getAsDouble() : 0.0, vae.shiftFactor(), 0.0,
                    dir + " shift_factor");
            assertEquals(json.get("force_upcast").getAsBoolean(), vae.forceUpcast(), dir + " force_upcast");
            int levels = json.getAsJsonArray("block_out_channels").size();
            assertEquals(1 << (levels - 1), vae.downscaleFactor(), dir + " downscale factor");
            assertTrue(vae.hasEncoder(), dir + ": encoder weights not loaded");
        }
    }

    @FunctionalInterface
    private interface Compare {
        void accept(String key, NDArray ours) throws IOException;

        default void unchecked(String key, NDArray ours) {
            try {
                accept(key, ours);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    @AfterAll
    static void printWorst() {
        System.out.println("[vae extra parity] worst relative L2 per case (any = outputs and intermediates):");
        WORST.forEach((k, v) -> System.out.printf(Locale.ROOT, "[vae extra parity]   %-34s %.3e%n", k, v));
    }
}
