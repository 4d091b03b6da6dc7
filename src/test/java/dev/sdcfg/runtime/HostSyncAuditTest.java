package dev.sdcfg.runtime;

import org.junit.jupiter.api.Test;
import org.objectweb.asm.ClassReader;
import org.objectweb.asm.ClassVisitor;
import org.objectweb.asm.MethodVisitor;
import org.objectweb.asm.Opcodes;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bytecode audit of the compute packages for calls that stall the host on a GPU: DJL's {@code Number} overloads
 * (each copies a scalar to the device and synchronises), host data turned into device tensors, device moves, and
 * reads of device data into Java. On the CPU these are cheap, so no CPU test would notice one creeping into the
 * denoising loop; this audit does. Every remaining call site is listed below with the reason it is not per step.
 */
class HostSyncAuditTest {

    /** Packages whose code runs in (or builds) the per-step computation. */
    private static final List<String> AUDITED = List.of(
            "dev/sdcfg/model", "dev/sdcfg/sampler", "dev/sdcfg/guidance", "dev/sdcfg/pipeline", "dev/sdcfg/runtime");

    /** class#method → why the host↔device traffic there is fine (once per model load, job or image, or not on a device). */
    private static final Map<String, String> ALLOWED = new TreeMap<>(Map.ofEntries(
            // model loading
            Map.entry("dev/sdcfg/model/unet/Timesteps#<init>", "frequency table, built once at load"),
            Map.entry("dev/sdcfg/model/clip/ClipTextModel#<init>", "causal mask / position ids, built once at load"),
            Map.entry("dev/sdcfg/model/nn/LinearLayer#scaled", "folds a constant into weights at load"),
            Map.entry("dev/sdcfg/model/io/Safetensors#load", "weights: host → device once at load"),
            // once per job / image
            Map.entry("dev/sdcfg/model/clip/ClipTextModel#run", "token ids → device, once per prompt"),
            Map.entry("dev/sdcfg/pipeline/StableDiffusionPipeline#encodePrompt", "token ids, once per prompt"),
            Map.entry("dev/sdcfg/model/clip/ClipTextModel#encodePooled", "the prompt's token ids read to find each row's EOS for the pooled output (SDXL encoder 2), once per prompt"),
            Map.entry("dev/sdcfg/pipeline/SdxlConditioning#ids", "SDXL token ids, once per prompt"),
            Map.entry("dev/sdcfg/pipeline/SdxlConditioning#timeIds", "SDXL's six size ids, once per prompt"),
            // model loading, never per step
            Map.entry("dev/sdcfg/model/lora/LoraFile#addPatches", "LoRA update scaled while the model loads, once per LoRA set"),
            Map.entry("dev/sdcfg/model/lora/LoraFile#scalar", "a LoRA file's alpha read while the model loads, once per LoRA set"),
            Map.entry("dev/sdcfg/model/ti/TextualInversionFile#table", "an embedding file's vectors (each table: SDXL files have two) read on the CPU, once per prompt naming it"),
            Map.entry("dev/sdcfg/model/ti/TextualInversionTokens#extraRows", "the named embeddings' vectors uploaded, once per prompt naming them"),
            Map.entry("dev/sdcfg/pipeline/PromptEmbeddings#arrays", "A1111 syntax: a chunk's lookup ids and its embeddings' vectors uploaded, once per chunk that names an embedding"),
            Map.entry("dev/sdcfg/pipeline/prompt/WeightedPromptEncoder#encode", "A1111 chunk token ids, once per chunk of a prompt"),
            Map.entry("dev/sdcfg/pipeline/prompt/WeightedPromptEncoder#emphasis", "A1111 token weights, once per weighted chunk of a prompt"),
            // guards that move an input only when a caller passes it on another device (the pipeline never does)
            Map.entry("dev/sdcfg/model/unet/UNet2DConditionModel#forward", "timestep guard: a no-op for device timesteps"),
            Map.entry("dev/sdcfg/model/unet/UNet2DConditionModel#toDevice", "input guard (sample, context, SDXL added conditioning): a no-op for device inputs"),
            Map.entry("dev/sdcfg/model/vae/AutoencoderKL#toModel", "input guard: a no-op for device inputs"),
            Map.entry("dev/sdcfg/pipeline/StableDiffusionPipeline#initialNoise", "initial latents drawn on the CPU, moved once per image"),
            Map.entry("dev/sdcfg/pipeline/StableDiffusionPipeline#timestepTensor", "the job's timesteps, uploaded once per image"),
            Map.entry("dev/sdcfg/pipeline/ImageStart#prepare", "start image, masked image and latent masks, uploaded once per image"),
            Map.entry("dev/sdcfg/pipeline/HiresPass#upscaleLatents", "the hires latent upscale's two bilinear weight matrices, uploaded once per image"),
            Map.entry("dev/sdcfg/pipeline/StableDiffusionPipeline#toRgbBytes", "the decoded image read back for PNG encoding, after the loop"),
            Map.entry("dev/sdcfg/pipeline/LatentPreview#render", "x0 read back for a live preview: only on the preview steps of a job that asked for previews (preview_every > 0)"),
            Map.entry("dev/sdcfg/model/vae/AutoencoderKL#tiledDecode", "VAE tiles read back and blended on the host, once per image after the loop (memory plan)"),
            Map.entry("dev/sdcfg/guidance/GuidanceTransform#constant", "per-job constant, made on first use and cached"),
            Map.entry("dev/sdcfg/guidance/GuidanceTransform#param", "a parameter's per-step values, uploaded once per job and indexed per step"),
            Map.entry("dev/sdcfg/sampler/PrefetchedNoise#refill", "a batch of noise draws moved in one copy (once per job for up to 64 MiB)"),
            Map.entry("dev/sdcfg/sampler/NoiseSource$1#randn", "ENGINE_CPU, the direct source: per-step copies on a GPU are what PrefetchedNoise avoids"),
            // engine start-up, on the CPU
            Map.entry("dev/sdcfg/runtime/CpuKernels#worstConvolutionError", "start-up self-check of the CPU convolution kernels, once per process"),
            // host scalars: CPU tensors by design
            Map.entry("dev/sdcfg/runtime/HostScalars#of", "creates the 0-dim CPU tensor that replaces a device scalar"),
            Map.entry("dev/sdcfg/runtime/HostScalars#like", "the same, as float32 for float32/float16 operands")));

    private static final Set<String> NUMBER_OPS_OK = Set.of("clip"); // clip passes its bounds to the kernel as scalars

    private static final Set<String> READS = Set.of("toArray", "toFloatArray", "toDoubleArray", "toIntArray",
            "toLongArray", "toByteArray", "toUint8Array", "toBooleanArray", "toByteBuffer", "getFloat", "getDouble",
            "getInt", "getLong", "getByte", "getUint8", "getBoolean", "toDebugString", "contentEquals", "allClose");

    @Test
    void computePackagesIssueNoHostDeviceTrafficOutsideTheListedPlaces() throws Exception {
        Path classes = classesRoot(HostScalars.class);
        Map<String, List<String>> found = new TreeMap<>();
        for (String pkg : AUDITED) {
            Path dir = classes.resolve(pkg);
            assertTrue(Files.isDirectory(dir), "no compiled classes at " + dir);
            scan(dir, found);
        }
        List<String> unexplained = new ArrayList<>();
        found.forEach((site, calls) -> {
            if (!ALLOWED.containsKey(site)) {
                unexplained.add(site + " → " + calls);
            }
        });
        assertEquals(List.of(), unexplained, "host↔device traffic in compute code (each is a stream sync on CUDA); "
                + "use HostScalars / device tensors made once per job, or list the site with its reason");
        Set<String> stale = new TreeSet<>(ALLOWED.keySet());
        stale.removeAll(found.keySet());
        assertEquals(Set.of(), stale, "allow-list entries without such calls any more: remove them");
    }

    @Test
    void theAuditFlagsEachKindOfCall() throws Exception {
        Map<String, List<String>> found = new TreeMap<>();
        scan(classesRoot(Offender.class).resolve("dev/sdcfg/runtime"), found);
        List<String> calls = found.get("dev/sdcfg/runtime/HostSyncAuditTest$Offender#step");
        assertFalse(calls == null, "the offender was not flagged: " + found.keySet());
        assertEquals(List.of("NDArray.mul(Number)", "NDManager.create(double)", "NDArray.toDevice", "NDArray.getFloat"),
                calls);
        assertFalse(found.containsKey("dev/sdcfg/runtime/HostSyncAuditTest$Offender#clean"), found.toString());
    }

    /** Code the audit must flag (and a method it must not). */
    static final class Offender {
        static float step(ai.djl.ndarray.NDArray x, ai.djl.ndarray.NDManager m) {
            ai.djl.ndarray.NDArray y = x.mul(0.5).add(m.create(2.0)).toDevice(ai.djl.Device.cpu(), false);
            return y.getFloat();
        }

        static ai.djl.ndarray.NDArray clean(ai.djl.ndarray.NDArray x, ai.djl.ndarray.NDArray s) {
            return HostScalars.mul(x.mul(s).clip(0, 1), 2);
        }
    }

    // ------------------------------------------------------------------ scanner

    private static Path classesRoot(Class<?> c) throws URISyntaxException {
        return Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI());
    }

    private static void scan(Path dir, Map<String, List<String>> found) throws IOException {
        List<Path> files;
        try (Stream<Path> s = Files.walk(dir)) {
            files = s.filter(p -> p.toString().endsWith(".class")).sorted().toList();
        }
        for (Path f : files) {
            try (InputStream in = Files.newInputStream(f)) {
                new ClassReader(in).accept(new ClassScanner(found), ClassReader.SKIP_DEBUG | ClassReader.SKIP_FRAMES);
            }
        }
    }

    private static final class ClassScanner extends ClassVisitor {
        private final Map<String, List<String>> found;
        private String className;

        ClassScanner(Map<String, List<String>> found) {
            super(Opcodes.ASM9);
            this.found = found;
        }

        @Override
        public void visit(int version, int access, String name, String signature, String superName, String[] interfaces) {
            className = name;
        }

        @Override
        public MethodVisitor visitMethod(int access, String name, String descriptor, String signature, String[] exceptions) {
            // lambdas count as the method that defines them: lambda$forward$3 → forward
            String method = name.startsWith("lambda$") ? name.split("\\$")[1] : name;
            String site = className + "#" + method;
            return new MethodVisitor(Opcodes.ASM9) {
                @Override
                public void visitMethodInsn(int opcode, String owner, String callee, String desc, boolean itf) {
                    String call = classify(owner, callee, desc);
                    if (call != null) {
                        found.computeIfAbsent(site, k -> new ArrayList<>()).add(call);
                    }
                }
            };
        }
    }

    /** A short description of a host↔device call, or null when the call is device-only. */
    static String classify(String owner, String name, String desc) {
        if (!owner.startsWith("ai/djl/")) {
            return null;
        }
        String type = owner.substring(owner.lastIndexOf('/') + 1);
        boolean array = type.equals("NDArray") || type.endsWith("NDArray");
        boolean manager = type.equals("NDManager") || type.endsWith("NDManager");
        if (array && desc.contains("Ljava/lang/Number;") && !NUMBER_OPS_OK.contains(name)) {
            return "NDArray." + name + "(Number)";
        }
        if (array && name.equals("toDevice")) {
            return "NDArray.toDevice";
        }
        if (array && READS.contains(name)) {
            return "NDArray." + name;
        }
        if (manager && name.equals("create") && !desc.startsWith("(Lai/djl/ndarray/types/Shape;")) {
            String params = desc.substring(1, desc.indexOf(')'));
            return "NDManager.create(" + switch (params) {
                case "D" -> "double";
                case "F" -> "float";
                case "I" -> "int";
                case "J" -> "long";
                default -> params;
            } + ")";
        }
        return null;
    }
}
