package dev.sdcfg.runtime;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.convolutional.Conv2d;
import ai.djl.pytorch.jni.LibUtils;
import com.sun.jna.Function;
import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * The CPU kernels libtorch may use, chosen so that fp32 results are right on every x86-64 CPU.
 *
 * <p><b>Why.</b> PyTorch 2.7.1 (DJL 0.36.0's CPU libtorch) bundles oneDNN v3.7.1. On an AMD EPYC with
 * avx512f/bw/vl/vnni/bf16 its {@code jit:avx512_core} direct fp32 convolution returned wrong numbers for some shapes:
 * input [1,24,24,72] × weight [16,24,3,3], pad 1 → relative error 0.15; 20 or 24 input channels with 16 or 32 output
 * channels at widths like 72 → 0.12–0.18, and NaN in some VAE layouts (8/12/16/48 input channels and the SD 1.5/2.1
 * shapes at 512–768 px were exact; fp64 never goes through oneDNN). The same kernel is exact on the Intel AVX-512
 * machines we have, so nothing short of avoiding it is safe. Three layers, each cheap:
 * <ol>
 *   <li><b>Cap oneDNN at AVX2</b> ({@code ONEDNN_MAX_CPU_ISA=AVX2}) before its first use. oneDNN reads the variable
 *       once, with the C library's {@code getenv}, the first time it asks which ISA to use (the first convolution) —
 *       Java cannot change its own environment, so it is set through libc's {@code setenv}. A value the user set
 *       ({@code ONEDNN_MAX_CPU_ISA} or the older {@code DNNL_MAX_CPU_ISA}) is kept: that is the override.
 *       The AVX2 kernels were exact on the failing machine, and faster there (docs/PERFORMANCE.md has the ratios).</li>
 *   <li><b>Self-check</b> after the engine loads: the convolution shapes that failed, and a few more, in fp32 against
 *       fp64 (deterministic inputs, no draw from the engine's seeded generator). If one is off by more than the
 *       project's fp32 limit, oneDNN is switched off for convolutions ({@code at::Context::setUserEnabledMkldnn(false)}:
 *       ATen's own im2col + GEMM path) and the check is repeated; both outcomes are logged and kept in
 *       {@link #state()} (the benchmark reports it).</li>
 *   <li><b>NNPACK off.</b> libtorch asks NNPACK for each CPU convolution that oneDNN does not take; where NNPACK does
 *       not support the CPU, libtorch 2.7 logs "Could not initialize NNPACK! Reason: Unsupported hardware." on every
 *       such call (19–31 lines at start-up), which users read as a fault. NNPACK never computes anything here
 *       (oneDNN, or the native fallback above, takes every fp32 convolution first), so it is switched off
 *       ({@code at::Context::setUserEnabledNNPACK(false)}) and the message never appears.</li>
 * </ol>
 * The {@code at::Context} setters are called through JNA on the loaded libtorch_cpu by their C++ (Itanium ABI)
 * symbol names; DJL's JNI does not expose them. Where a symbol is missing (another libtorch build) the step is
 * skipped and logged.
 */
public final class CpuKernels {

    /** What the engine runs with; see the class comment. */
    public record State(String onednnMaxCpuIsa, String onednnMaxCpuIsaSource, String cpuVectorIsa,
                        boolean onednnConvolution, boolean nnpack, String selfCheck, double selfCheckWorstRelError) {
    }

    /** The project's fp32 limit (relative L2), as in every parity test. */
    static final double FP32_LIMIT = 1e-4;

    static final String ISA_VARIABLE = "ONEDNN_MAX_CPU_ISA";
    private static final String LEGACY_ISA_VARIABLE = "DNNL_MAX_CPU_ISA";
    static final String DEFAULT_CAP = "AVX2";

    private static final System.Logger LOG = System.getLogger(CpuKernels.class.getName());

    private static String isa = "";
    private static String isaSource = "not set";
    private static volatile State state;

    private CpuKernels() {
    }

    /** The settings in force once the engine has started ({@code null} before). */
    public static State state() {
        return state;
    }

    /** Step 1; called by {@link DjlRuntime} before libtorch is loaded, idempotent. */
    static synchronized void capOneDnnIsa() {
        if (!isaSource.equals("not set")) {
            return;
        }
        if (!Platform.isLinux() && !Platform.isMac()) {
            isaSource = "unchanged (no setenv on this OS)";
            return;
        }
        try {
            LibC c = Native.load("c", LibC.class);
            String user = c.getenv(ISA_VARIABLE);
            String legacy = c.getenv(LEGACY_ISA_VARIABLE);
            if (user != null && !user.isBlank()) {
                isa = user;
                isaSource = "set by the user (" + ISA_VARIABLE + ")";
            } else if (legacy != null && !legacy.isBlank()) {
                isa = legacy;
                isaSource = "set by the user (" + LEGACY_ISA_VARIABLE + ")";
            } else if (c.setenv(ISA_VARIABLE, DEFAULT_CAP, 0) == 0) {
                isa = DEFAULT_CAP;
                isaSource = "set by the service (oneDNN 3.7.1 AVX-512 fp32 convolution bug; "
                        + ISA_VARIABLE + " overrides)";
            } else {
                isaSource = "unchanged (setenv failed)";
            }
        } catch (LinkageError | RuntimeException e) {
            isaSource = "unchanged (" + e + ")";
        }
    }

    /** Steps 2 and 3; called by {@link DjlRuntime} once the engine is loaded, before anything else runs on it. */
    static synchronized void configureLoadedEngine() {
        if (state != null) {
            return;
        }
        boolean nnpack = !setContextFlag("_ZN2at7Context20setUserEnabledNNPACKEb", false);
        double worst = worstConvolutionError();
        boolean onednn = true;
        String check;
        if (worst <= FP32_LIMIT) {
            check = "passed";
        } else if (useOneDnnConvolution(false)) {
            onednn = false;
            double before = worst;
            worst = worstConvolutionError();
            check = String.format(Locale.ROOT, "failed with oneDNN (relative error %.3g); oneDNN convolution switched "
                    + "off, ATen's native convolution %s", before, worst <= FP32_LIMIT ? "passed" : "FAILED too");
        } else {
            check = String.format(Locale.ROOT, "FAILED (relative error %.3g) and oneDNN could not be switched off", worst);
        }
        state = new State(isa.isEmpty() ? "(oneDNN default)" : isa, isaSource, cpuVectorIsa(), onednn, nnpack,
                check, worst);
        System.Logger.Level level = worst <= FP32_LIMIT ? (onednn ? System.Logger.Level.DEBUG : System.Logger.Level.WARNING)
                : System.Logger.Level.ERROR;
        LOG.log(level, "CPU kernels: " + state);
    }

    /**
     * Worst relative L2 error of fp32 against fp64 over the convolutions that went wrong (20/24 → 16/32 channels,
     * 3×3, width 72) and a few neighbours (1×1, stride 2, odd sizes). Inputs come from a fixed formula so that the
     * check never draws from the engine's seeded generator.
     */
    static double worstConvolutionError() {
        int[][] cases = { // in, out, height, width, kernel, stride
            {24, 16, 24, 72, 3, 1}, {20, 16, 24, 72, 3, 1}, {24, 32, 24, 72, 3, 1}, {20, 32, 24, 72, 3, 1},
            {24, 24, 23, 71, 3, 2}, {3, 24, 17, 33, 3, 1}, {24, 16, 24, 72, 1, 1}, {40, 48, 12, 20, 3, 1},
        };
        double worst = 0;
        // Conv2d directly, not Ops.conv2d: this runs inside DjlRuntime.engine(), which Ops' initialiser calls.
        try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
            for (int[] c : cases) {
                NDArray x = m.create(pattern(c[0] * c[2] * c[3], 1), new Shape(1, c[0], c[2], c[3]));
                NDArray w = m.create(pattern(c[1] * c[0] * c[4] * c[4], 2), new Shape(c[1], c[0], c[4], c[4]));
                NDArray b = m.create(pattern(c[1], 3), new Shape(c[1]));
                Shape stride = new Shape(c[5], c[5]);
                Shape pad = new Shape(c[4] / 2, c[4] / 2);
                NDArray ref = Conv2d.conv2d(x, w, b, stride, pad, new Shape(1, 1), 1).singletonOrThrow();
                NDArray f32 = Conv2d.conv2d(x.toType(DataType.FLOAT32, false), w.toType(DataType.FLOAT32, false),
                        b.toType(DataType.FLOAT32, false), stride, pad, new Shape(1, 1), 1).singletonOrThrow();
                double err = f32.toType(DataType.FLOAT64, false).sub(ref).norm().getDouble() / ref.norm().getDouble();
                worst = Double.isNaN(err) ? Double.POSITIVE_INFINITY : Math.max(worst, err);
            }
        }
        return worst;
    }

    /** Values in (−1, 1) from a fixed formula (fp64). */
    private static double[] pattern(int n, int salt) {
        double[] v = new double[n];
        for (int i = 0; i < n; i++) {
            v[i] = Math.sin(0.7 * i + 1.3 * salt) * Math.cos(0.11 * i * salt);
        }
        return v;
    }

    /**
     * Switches oneDNN convolutions on or off (ATen's native path when off) and returns whether the call went through.
     * For the self-check above and for tests that prove the fallback itself is exact; not a user setting.
     */
    static boolean useOneDnnConvolution(boolean on) {
        return setContextFlag("_ZN2at7Context20setUserEnabledMkldnnEb", on);
    }

    /** Calls {@code at::globalContext().SETTER(value)}; false when the symbol is not there. */
    private static boolean setContextFlag(String setter, boolean value) {
        try {
            NativeLibrary torch = NativeLibrary.getInstance(libtorchCpu().toString());
            Pointer context = torch.getFunction("_ZN2at13globalContextEv").invokePointer(new Object[0]);
            Function set = torch.getFunction(setter);
            set.invokeVoid(new Object[] {context, value});
            return true;
        } catch (LinkageError | RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "could not call " + setter + " in libtorch_cpu: " + e);
            return false;
        }
    }

    private static Path libtorchCpu() {
        String dir = LibUtils.getLibtorchPath();
        for (String name : new String[] {"libtorch_cpu.so", "libtorch_cpu.dylib"}) {
            Path p = Paths.get(dir, name);
            if (Files.exists(p)) {
                return p;
            }
        }
        throw new IllegalStateException("libtorch_cpu not found in " + dir);
    }

    /** The CPU's vendor and x86 vector-extension flags (Linux), or what the JVM says the architecture is. */
    static String cpuVectorIsa() {
        try {
            String vendor = "?";
            Set<String> flags = new TreeSet<>();
            for (String line : Files.readAllLines(Paths.get("/proc/cpuinfo"))) {
                String value = line.substring(line.indexOf(':') + 1).trim();
                if (line.startsWith("vendor_id")) {
                    vendor = value;
                } else if (line.startsWith("flags")) {
                    flags.addAll(List.of(value.split("\\s+")));
                    break; // the first processor's entry is enough: vendor_id comes before flags
                }
            }
            List<String> isaFlags = new ArrayList<>();
            for (String f : new String[] {"avx512f", "avx512_bf16", "avx512_fp16", "amx_tile", "avx2", "fma"}) {
                if (flags.contains(f)) {
                    isaFlags.add(f);
                }
            }
            return vendor + " " + String.join(" ", isaFlags);
        } catch (IOException | RuntimeException e) {
            return System.getProperty("os.arch");
        }
    }

    /** The two libc calls this needs. */
    public interface LibC extends Library {
        String getenv(String name);

        int setenv(String name, String value, int overwrite);
    }
}
