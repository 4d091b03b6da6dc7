package dev.sdcfg.runtime;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The kernel choice of {@link CpuKernels}, seen from outside: a child JVM with oneDNN's verbose log shows which
 * convolution implementation ran. The ISA can only be chosen once per process, hence the child processes.
 */
class CpuKernelsTest {

    private static final Pattern CONV = Pattern.compile("onednn_verbose,[^,]*,primitive,exec,cpu,convolution,([^,]+),");

    @Test
    void oneDnnIsCappedAtAvx2WhenTheUserSetsNothing() throws Exception {
        Child c = probe(Map.of());
        List<String> impls = c.convolutionKernels();
        assertFalse(impls.isEmpty(), "no convolution in oneDNN's log: " + c.out);
        for (String impl : impls) {
            assertFalse(impl.contains("avx512"), "an AVX-512 kernel ran: " + impl);
        }
        if (cpuHas("avx2")) {
            assertTrue(impls.stream().allMatch(i -> i.endsWith(":avx2")), impls.toString());
        }
        assertTrue(c.out.contains("probe-state isa=AVX2 source=set by the service"), c.out);
        assertTrue(c.out.contains("onednn=true nnpack=false check=passed"), c.out);
        assertFalse(c.out.contains("NNPACK"), c.out);
    }

    @Test
    void theUsersOwnIsaSettingIsKept() throws Exception {
        Child c = probe(Map.of("ONEDNN_MAX_CPU_ISA", "AVX512_CORE"));
        assertTrue(c.out.contains("probe-state isa=AVX512_CORE source=set by the user (ONEDNN_MAX_CPU_ISA)"), c.out);
        if (cpuHas("avx512f")) {
            assertTrue(c.convolutionKernels().stream().allMatch(i -> i.endsWith(":avx512_core")),
                    c.convolutionKernels().toString());
        }
        Child sse = probe(Map.of("ONEDNN_MAX_CPU_ISA", "SSE41"));
        assertTrue(sse.convolutionKernels().stream().noneMatch(i -> i.contains("avx")), sse.convolutionKernels().toString());
    }

    @Test
    void theEngineStartsWithACheckedConvolution() {
        CpuKernels.State s = CpuKernelsAccess.state();
        assertEquals("passed", s.selfCheck(), s.toString());
        assertTrue(s.selfCheckWorstRelError() > 0 && s.selfCheckWorstRelError() <= CpuKernels.FP32_LIMIT, s.toString());
        assertTrue(s.onednnConvolution());
        assertFalse(s.nnpack());
    }

    private static boolean cpuHas(String flag) throws IOException {
        return Files.readAllLines(Paths.get("/proc/cpuinfo")).stream()
                .filter(l -> l.startsWith("flags")).findFirst()
                .map(l -> List.of(l.split("\\s+")).contains(flag)).orElse(false);
    }

    private record Child(String out) {
        List<String> convolutionKernels() {
            Matcher m = CONV.matcher(out);
            List<String> impls = new java.util.ArrayList<>();
            while (m.find()) {
                impls.add(m.group(1));
            }
            return impls;
        }
    }

    private static Child probe(Map<String, String> env) throws Exception {
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        ProcessBuilder pb = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                ConvolutionKernelProbe.class.getName()).redirectErrorStream(true);
        pb.environment().remove("ONEDNN_MAX_CPU_ISA");
        pb.environment().remove("DNNL_MAX_CPU_ISA");
        pb.environment().put("ONEDNN_VERBOSE", "1");
        pb.environment().putAll(env);
        Process p = pb.start();
        byte[] bytes = p.getInputStream().readAllBytes();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "probe did not end");
        String out = new String(bytes, StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        return new Child(out);
    }
}
