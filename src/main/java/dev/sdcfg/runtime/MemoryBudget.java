package dev.sdcfg.runtime;

import ai.djl.Device;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The memory a job may use for its working set (activations, attention scores, decoded images), beyond the
 * resident weights. Configured as {@code sd.memory.budget} ("auto", or a size such as {@code 8G}, {@code 8GiB},
 * {@code 6144M}, bytes); "auto" is:
 * <ul>
 *   <li>on the CPU: {@link #CPU_SHARE} of the memory the process may have (the cgroup limit,
 *       {@code /sys/fs/cgroup/memory.max} or v1's {@code memory.limit_in_bytes}, else physical memory), minus the
 *       JVM's maximum heap, the resident weights and {@link #NATIVE_BASELINE} for the engine's own libraries;</li>
 *   <li>on a GPU: {@link #GPU_SHARE} of the device memory free after the weights are loaded.</li>
 * </ul>
 */
public final class MemoryBudget {

    /** Share of the process's memory limit that generation may plan for on the CPU. */
    public static final double CPU_SHARE = 0.5;
    /** Share of the GPU's free memory (after loading) that generation may plan for. */
    public static final double GPU_SHARE = 0.8;
    /** libtorch, oneDNN/MKL scratch, the JVM's non-heap memory. */
    public static final long NATIVE_BASELINE = 768L << 20;
    /** Never plan with less than this. */
    public static final long MINIMUM = 256L << 20;

    private static final Pattern SIZE = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*([kmgt]?)(i?b?)");

    private MemoryBudget() {
    }

    /**
     * The budget for {@code spec} ("auto"/empty or a size) on {@code device}, with {@code weightBytes} resident.
     *
     * @throws IllegalArgumentException when the size cannot be read
     */
    public static long resolve(String spec, Device device, long weightBytes) {
        String s = spec == null ? "" : spec.trim().toLowerCase(Locale.ROOT);
        if (s.isEmpty() || s.equals("auto")) {
            return device != null && device.isGpu() ? autoGpu(device) : autoCpu(weightBytes);
        }
        return parseSize(s);
    }

    /** "8G", "8GiB", "6144M", "1.5g", "1073741824" → bytes (binary units). */
    public static long parseSize(String spec) {
        Matcher m = SIZE.matcher(spec.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new IllegalArgumentException("sd.memory.budget: expected 'auto' or a size such as 8G, 8GiB or 6144M,"
                    + " got '" + spec + "'");
        }
        double v = Double.parseDouble(m.group(1));
        int shift = switch (m.group(2)) {
            case "k" -> 10;
            case "m" -> 20;
            case "g" -> 30;
            case "t" -> 40;
            default -> 0;
        };
        long bytes = (long) (v * (1L << shift));
        if (bytes <= 0) {
            throw new IllegalArgumentException("sd.memory.budget must be positive, got '" + spec + "'");
        }
        return bytes;
    }

    static long autoCpu(long weightBytes) {
        long limit = processMemoryLimit();
        long budget = (long) (CPU_SHARE * limit) - Runtime.getRuntime().maxMemory() - weightBytes - NATIVE_BASELINE;
        return Math.max(MINIMUM, budget);
    }

    static long autoGpu(Device device) {
        try {
            java.lang.management.MemoryUsage u = ai.djl.util.cuda.CudaUtils.getGpuMemory(device);
            long free = u.getMax() - u.getCommitted();
            return Math.max(MINIMUM, (long) (GPU_SHARE * free));
        } catch (RuntimeException | LinkageError e) {
            return MINIMUM;
        }
    }

    /** The cgroup memory limit when there is one below physical memory, else physical memory. */
    public static long processMemoryLimit() {
        long physical = physicalMemory();
        long cgroup = cgroupLimit();
        return cgroup > 0 && cgroup < physical ? cgroup : physical;
    }

    static long physicalMemory() {
        java.lang.management.OperatingSystemMXBean os = ManagementFactory.getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
            return sun.getTotalMemorySize();
        }
        return 8L << 30;
    }

    static long cgroupLimit() {
        for (Path p : new Path[] {Path.of("/sys/fs/cgroup/memory.max"),
                Path.of("/sys/fs/cgroup/memory/memory.limit_in_bytes")}) {
            try {
                String v = Files.readString(p).trim();
                if (!v.equals("max")) {
                    long l = Long.parseLong(v);
                    if (l > 0 && l < (1L << 60)) {
                        return l;
                    }
                }
            } catch (IOException | RuntimeException e) {
                // no such controller here
            }
        }
        return -1;
    }

    /** The process's resident set (VmRSS of /proc/self/status), or -1 where there is none. */
    public static long residentSetBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024L;
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux
        }
        return -1;
    }

    /** Bytes of the open arrays a manager (and its sub-managers) holds. */
    public static long bytesOf(ai.djl.ndarray.NDManager manager) {
        long bytes = 0;
        for (ai.djl.ndarray.NDArray a : manager.getManagedArrays()) {
            if (!a.isReleased()) {
                bytes += a.getShape().size() * a.getDataType().getNumOfBytes();
            }
        }
        return bytes;
    }

    /** "5.3 GiB" / "812 MiB". */
    public static String format(long bytes) {
        if (bytes >= (1L << 30)) {
            return String.format(Locale.ROOT, "%.1f GiB", bytes / (double) (1L << 30));
        }
        return String.format(Locale.ROOT, "%d MiB", Math.max(1, Math.round(bytes / (double) (1L << 20))));
    }
}
