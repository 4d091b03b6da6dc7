package dev.sdcfg.model.vae;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import dev.sdcfg.model.io.Safetensors;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * AutoencoderKL against diffusers: for each {@code vae_f32}/{@code vae_f64} golden in {@link Fixtures#golden()}
 * (honouring {@code -Dparity.fixtures=DIR}), decode its {@code latents} and encode its {@code image} with the model
 * in {@code Fixtures.model()/vae} and compare {@code decoded}, every {@code decode.*} intermediate (and any
 * {@code encode.*} one) and {@code encoder_moments} by relative L2: &lt; 1e-4 in fp32, &lt; 1e-6 in fp64.
 */
class VaeParityTest {

    static Stream<Path> goldens() throws IOException {
        List<Path> out = new ArrayList<>();
        for (String name : new String[] {"vae_f32.safetensors", "vae_f64.safetensors"}) {
            Path p = Fixtures.golden().resolve(name);
            if (Files.isRegularFile(p)) {
                out.add(p);
            }
        }
        assertFalse(out.isEmpty(), "no vae_f32/vae_f64 golden in " + Fixtures.golden());
        return out.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("goldens")
    void matchesDiffusers(Path golden) throws IOException {
        boolean f64 = golden.getFileName().toString().contains("_f64");
        DataType dtype = f64 ? DataType.FLOAT64 : DataType.FLOAT32;
        double tol = f64 ? 1e-6 : 1e-4;
        Map<String, Double> rel = new TreeMap<>();
        Map<String, Double> maxAbs = new TreeMap<>();
        List<String> inputs = List.of("latents", "image");
        try (Safetensors ref = Safetensors.open(golden);
             NDManager m = NDManager.newBaseManager(DjlRuntime.engine().defaultDevice());
             AutoencoderKL vae = AutoencoderKL.load(Fixtures.model().resolve("vae"), ComputeContext.cpu(dtype), null)) {
            Compare cmp = (key, ours) -> {
                if (!ref.contains(key)) {
                    return;
                }
                NDArray want = ref.load(key, m, dtype);
                rel.put(key, Fixtures.relL2(ours, want));
                maxAbs.put(key, ours.toType(DataType.FLOAT64, false).sub(want.toType(DataType.FLOAT64, false))
                        .abs().max().getDouble());
                want.close();
            };
            if (ref.contains("latents")) {
                NDArray latents = ref.load("latents", m, dtype);
                NDArray decoded = vae.decode(latents, (name, x) -> cmp.unchecked("decode." + name, x));
                assertEquals(DataType.FLOAT64 == dtype, decoded.getDataType() == DataType.FLOAT64);
                cmp.accept("decoded", decoded);
                decoded.close();
            }
            if (ref.contains("image")) {
                NDArray image = ref.load("image", m, dtype);
                NDArray moments = vae.encodeMoments(image, (name, x) -> cmp.unchecked("encode." + name, x));
                cmp.accept("encoder_moments", moments);
                moments.close();
            }
            List<String> missing = new ArrayList<>();
            for (String key : ref.keys()) {
                if (inputs.contains(key) || rel.containsKey(key)) {
                    continue;
                }
                if (key.startsWith("decode.") || key.startsWith("encode.") || key.equals("decoded")
                        || key.equals("encoder_moments")) {
                    missing.add(key);
                } else {
                    System.out.println("[" + golden.getFileName() + "] not a VAE output, not checked: " + key);
                }
            }
            assertTrue(missing.isEmpty(), golden.getFileName() + ": golden keys the model did not produce: " + missing);
        }
        assertTrue(rel.containsKey("decoded") && rel.containsKey("encoder_moments"),
                golden.getFileName() + " checked " + rel.keySet());
        String worst = null;
        for (Map.Entry<String, Double> e : rel.entrySet()) {
            System.out.printf("[%s] %-36s relL2 %.3e  maxAbs %.3e%n", golden.getFileName(), e.getKey(), e.getValue(),
                    maxAbs.get(e.getKey()));
            if (worst == null || !(e.getValue() <= rel.get(worst))) {
                worst = e.getKey();
            }
        }
        System.out.printf("[%s] worst: %s relL2 %.3e (tolerance %.0e)%n", golden.getFileName(), worst, rel.get(worst), tol);
        for (Map.Entry<String, Double> e : rel.entrySet()) {
            assertTrue(e.getValue() < tol, golden.getFileName() + " " + e.getKey() + ": relL2 " + e.getValue()
                    + " >= " + tol);
        }
    }

    @FunctionalInterface
    private interface Compare {
        void accept(String key, NDArray ours) throws IOException;

        default void unchecked(String key, NDArray ours) {
            try {
                accept(key, ours);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }
    }
}
