package dev.sdcfg.bench;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import com.google.gson.GsonBuilder;
import dev.sdcfg.model.clip.ClipTextModel;
import dev.sdcfg.model.config.JsonConfig;
import dev.sdcfg.model.io.Weights;
import dev.sdcfg.model.unet.UNet2DConditionModel;
import dev.sdcfg.model.unet.UNetConfig;
import dev.sdcfg.model.vae.AutoencoderKL;
import dev.sdcfg.model.vae.VaeConfig;
import dev.sdcfg.pipeline.GenerationListener;
import dev.sdcfg.pipeline.GenerationRequest;
import dev.sdcfg.pipeline.PipelineOptions;
import dev.sdcfg.pipeline.StableDiffusionPipeline;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.runtime.CpuKernels;
import dev.sdcfg.runtime.DjlRuntime;
import dev.sdcfg.runtime.HostScalars;
import dev.sdcfg.runtime.OpCounter;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Benchmark command: host cost per NDArray op, text encoding, one UNet step at batch 2 (one image with CFG) and
 * batch 8, VAE decode, a full image, the number of NDArray ops per UNet forward and the host time to issue one.
 * Runs a model folder ({@code --model DIR}), the embedded tiny model ({@code --config tiny}) or SD-shaped random
 * weights ({@code --config mid|sd15|sdxl|sdxl-mid}). Writes a JSON report. See docs/PERFORMANCE.md.
 */
public final class Benchmark {

    private final Map<String, String> args;
    private final Map<String, Object> report = new LinkedHashMap<>();

    private Benchmark(Map<String, String> args) {
        this.args = args;
    }

    public static void main(String[] argv) throws Exception {
        Map<String, String> a = new LinkedHashMap<>();
        for (int i = 0; i < argv.length; i++) {
            String k = argv[i];
            if (!k.startsWith("--")) {
                throw new IllegalArgumentException("unexpected argument " + k);
            }
            if (k.equals("--help")) {
                System.out.println("usage: Benchmark [--model DIR | --config tiny|mid|sd15|sdxl|sdxl-mid] [--device cpu|gpu] "
                        + "[--dtype float32|float16] [--size PX] [--steps 50] [--iters 5] [--warmup 2] "
                        + "[--batches 2,8] [--full true|false] [--out bench-out/report.json]\n"
                        + "       peak memory only: --memory 64,256,512,1024 [--memory-n 1,2,3,4] [--steps 1]"
                        + " [--memory-budget auto|8G]");
                return;
            }
            a.put(k.substring(2), i + 1 < argv.length ? argv[++i] : "");
        }
        new Benchmark(a).run();
    }

    private String arg(String k, String dflt) {
        return args.getOrDefault(k, dflt);
    }

    private void run() throws IOException, InterruptedException {
        ComputeContext ctx = ComputeContext.resolve(arg("device", "auto"), arg("dtype", "auto"));
        int iters = Integer.parseInt(arg("iters", "5"));
        int warmup = Integer.parseInt(arg("warmup", "2"));
        report.put("engine", DjlRuntime.engine().getEngineName() + " " + DjlRuntime.engine().getVersion());
        report.put("device", ctx.device().toString());
        report.put("dtype", ctx.dtype().toString());
        report.put("java", System.getProperty("java.version"));
        report.put("cpus", Runtime.getRuntime().availableProcessors());
        // which CPU kernels ran: oneDNN's ISA cap (and who set it), the CPU's widest vector ISA, the self-check
        report.put("cpu_kernels", CpuKernels.state());
        report.put("iters", iters);
        report.put("warmup", warmup);

        report.put("op_overhead_us", opOverhead(ctx));

        StableDiffusionPipeline pipe = load(ctx);
        if (args.containsKey("memory")) {
            try {
                report.put("peak_memory", peakMemory(pipe));
            } finally {
                pipe.close();
            }
            write();
            return;
        }
        try {
            int size = Integer.parseInt(arg("size", String.valueOf(pipe.nativeSize())));
            int latent = size / pipe.vaeScaleFactor();
            report.put("image_size", size);
            int channels = pipe.unet().config().inChannels();
            int hidden = pipe.unet().config().contextDim();
            UNetConfig.TextTimeConfig added = pipe.unet().config().addition();
            try (NDManager m = NDManager.newBaseManager(ctx.device())) {
                NDArray ids = m.arange(0, 77, 1, DataType.INT64).add(320).reshape(1, 77);
                report.put("text_encode_ms", time(warmup, iters, () -> pipe.textEncoder().encode(ids, 0)));

                Map<String, Object> unetReport = new LinkedHashMap<>();
                for (String b : arg("batches", "2,8").split(",")) {
                    int batch = Integer.parseInt(b.trim());
                    NDArray x = m.randomNormal(new Shape(batch, channels, latent, latent), ctx.dtype());
                    NDArray ehs = m.randomNormal(new Shape(batch, 77, hidden), ctx.dtype());
                    NDArray t = m.create(999f);
                    // SDXL's text_time inputs: pooled text embeds and the six size ids of a native-size image
                    NDArray pooled = added == null ? null
                            : m.randomNormal(new Shape(batch, added.textEmbedsDim()), ctx.dtype());
                    NDArray timeIds = added == null ? null : m.full(new Shape(batch, 6), size).toType(ctx.dtype(), false);
                    Map<String, Object> r = new LinkedHashMap<>(time(warmup, iters,
                            () -> pipe.unet().forward(x, t, ehs, pooled, timeIds, null)));
                    // ops and host issue time of one forward, without waiting for the device
                    OpCounter.start();
                    long h0 = System.nanoTime();
                    NDArray out = pipe.unet().forward(x, t, ehs, pooled, timeIds, null);
                    long issue = System.nanoTime() - h0;
                    long ops = OpCounter.stop();
                    sync(out);
                    out.close();
                    r.put("ndarray_ops_per_forward", ops);
                    r.put("host_issue_ms", issue / 1e6);
                    unetReport.put("batch" + batch, r);
                }
                report.put("unet_step", unetReport);

                NDArray lat = m.randomNormal(new Shape(1, channels, latent, latent), ctx.dtype());
                report.put("vae_decode_ms", time(warmup, Math.max(1, iters / 2), () -> pipe.vae().decode(lat)));
                if (dev.sdcfg.pipeline.LatentPreview.supports(channels)) {
                    report.put("preview_ms", previewCost(lat, warmup, iters));
                }
            }
            if (Boolean.parseBoolean(arg("full", "true"))) {
                int steps = Integer.parseInt(arg("steps", "50"));
                GenerationRequest req = new GenerationRequest("a photograph of an astronaut riding a horse", "",
                        size, size, steps, "lms", null, null, 1024, 1);
                pipe.generate(new GenerationRequest("warm", "", size, size, 2, "lms", null, null, 1, 1),
                        GenerationListener.NONE);
                List<Double> full = new ArrayList<>();
                int fullIters = Integer.parseInt(arg("full-iters", "1"));
                for (int i = 0; i < fullIters; i++) {
                    long f0 = System.nanoTime();
                    pipe.generate(req, GenerationListener.NONE);
                    full.add((System.nanoTime() - f0) / 1e6);
                }
                Map<String, Object> f = new LinkedHashMap<>();
                f.put("steps", steps);
                f.put("sampler", "lms");
                f.put("median_ms", median(full));
                f.put("min_ms", full.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN));
                report.put("full_image", f);
            }
        } finally {
            pipe.close();
        }
        write();
    }

    private void write() throws IOException {
        String json = new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create().toJson(report);
        Path out = Paths.get(arg("out", "bench-out/report.json"));
        if (out.getParent() != null) {
            Files.createDirectories(out.getParent());
        }
        Files.writeString(out, json + "\n");
        System.out.println(json);
        System.out.println("report written to " + out.toAbsolutePath());
    }

    private StableDiffusionPipeline load(ComputeContext ctx) {
        int slice = Integer.parseInt(arg("attention-slice", "0"));
        PipelineOptions opts = new PipelineOptions(args.get("variant"), slice, 0, 4096L * 4096L,
                arg("memory-budget", "auto"));
        if (args.containsKey("model")) {
            report.put("model", args.get("model"));
            return StableDiffusionPipeline.load(Paths.get(args.get("model")), ctx, opts);
        }
        String config = arg("config", "mid");
        Path demo = dev.sdcfg.model.EmbeddedDemoModel.folder();
        report.put("model", config.equals("tiny") ? "embedded demo model (trained, tools/demo-model)"
                : "synthetic " + config + " (random weights, " + (config.startsWith("sdxl") ? "SDXL" : "SD1.5")
                        + "-shaped)");
        if (config.equals("tiny")) {
            return StableDiffusionPipeline.load(demo, ctx, opts);
        }
        BenchConfigs.Preset p = BenchConfigs.get(config);
        DjlRuntime.seed(0);
        ClipTextModel text = new ClipTextModel(p.text(), Weights.synthetic("text_encoder"), ctx);
        UNet2DConditionModel unet = new UNet2DConditionModel(UNetConfig.from(p.unet()), Weights.synthetic("unet"), ctx,
                slice);
        AutoencoderKL vae = AutoencoderKL.create(VaeConfig.from(p.vae()), Weights.synthetic("vae"), ctx);
        if (p.text2() != null) {
            ClipTextModel text2 = new ClipTextModel(p.text2(), Weights.synthetic("text_encoder_2"), ctx, true);
            return StableDiffusionPipeline.assembleXl("synthetic-" + config, demo.resolve("tokenizer"),
                    JsonConfig.read(demo.resolve("scheduler/scheduler_config.json")), text, text2, unet, vae, ctx, opts);
        }
        return StableDiffusionPipeline.assemble("synthetic-" + config, demo.resolve("tokenizer"),
                JsonConfig.read(demo.resolve("scheduler/scheduler_config.json")), text, unet, vae, ctx, opts);
    }

    /**
     * Peak memory per size and n: the growth of the process's resident set (VmRSS, sampled every 10 ms) over its
     * value before each generation, next to the planner's estimate and the plan it chose.
     */
    private List<Map<String, Object>> peakMemory(StableDiffusionPipeline pipe) throws InterruptedException {
        int steps = Integer.parseInt(arg("steps", "1"));
        pipe.calibrateMemory();
        report.put("memory_budget_bytes", pipe.memoryBudget());
        report.put("memory_footprint", pipe.memoryPlanner().footprint().toString());
        List<Map<String, Object>> rows = new ArrayList<>();
        for (String sz : arg("memory", "64,128,256,512,768,1024").split(",")) {
            int size = Integer.parseInt(sz.trim());
            for (String nn : arg("memory-n", "1,2,3,4").split(",")) {
                int n = Integer.parseInt(nn.trim());
                GenerationRequest req = new GenerationRequest("x", "", size, size, steps, "euler", null, null, 1, n);
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("size", size);
                row.put("n", n);
                row.put("steps", steps);
                dev.sdcfg.pipeline.MemoryPlan plan = pipe.memoryPlan(req);
                row.put("plan", plan.fits() ? plan.kind() : "refused");
                row.put("estimate_mib", plan.estimateBytes() >> 20);
                if (plan.fits()) {
                    System.gc();
                    long t0 = System.nanoTime();
                    dev.sdcfg.runtime.PeakRss rss = new dev.sdcfg.runtime.PeakRss(10);
                    try {
                        pipe.generate(req, GenerationListener.NONE);
                    } finally {
                        rss.close();
                    }
                    row.put("seconds", (System.nanoTime() - t0) / 1e9);
                    row.put("rss_before_mib", rss.baseBytes() >> 20);
                    row.put("rss_peak_growth_mib", (rss.peakBytes() - rss.baseBytes()) >> 20);
                }
                System.out.println("[memory] " + row);
                rows.add(row);
            }
        }
        return rows;
    }

    /** Median and min wall time of {@code f}, each run waited for (the result is read back to sync the device). */
    private static Map<String, Object> time(int warmup, int iters, Supplier<NDArray> f) {
        for (int i = 0; i < warmup; i++) {
            try (NDScope s = new NDScope()) {
                sync(f.get());
            }
        }
        List<Double> ms = new ArrayList<>();
        for (int i = 0; i < iters; i++) {
            try (NDScope s = new NDScope()) {
                long t0 = System.nanoTime();
                sync(f.get());
                ms.add((System.nanoTime() - t0) / 1e6);
            }
        }
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("median_ms", median(ms));
        r.put("min_ms", ms.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN));
        r.put("samples_ms", ms);
        return r;
    }

    /**
     * What one live preview adds to its step (preview_every): the device→host copy of x0 and the host projection and
     * PNG encoding ({@link dev.sdcfg.pipeline.LatentPreview#render}); x0 itself is two element-wise ops on the
     * device, like a sampler step's. Steps without a preview pay nothing.
     */
    private static Map<String, Object> previewCost(NDArray latents, int warmup, int iters) {
        sync(latents.duplicate());
        for (int i = 0; i < warmup; i++) {
            dev.sdcfg.pipeline.LatentPreview.render(latents);
        }
        List<Double> ms = new ArrayList<>();
        int bytes = 0;
        for (int i = 0; i < Math.max(iters, 5); i++) {
            long t0 = System.nanoTime();
            bytes = dev.sdcfg.pipeline.LatentPreview.render(latents).png().length;
            ms.add((System.nanoTime() - t0) / 1e6);
        }
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("median_ms", median(ms));
        r.put("min_ms", ms.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN));
        r.put("png_bytes", bytes);
        r.put("samples_ms", ms);
        return r;
    }

    /** Reads one element back: waits for all queued work on the device. */
    private static void sync(NDArray a) {
        if (a.getDevice().isGpu()) {
            a.get(0).flatten().get(0).toType(DataType.FLOAT32, false).getFloat();
        }
        a.close();
    }

    private static double median(List<Double> v) {
        double[] s = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        if (s.length == 0) {
            return Double.NaN;
        }
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    /**
     * Host time per NDArray op: chained elementwise adds of two small device tensors, the same with a Java scalar
     * argument (a scalar tensor is created per call), and a reshape view.
     */
    private static Map<String, Object> opOverhead(ComputeContext ctx) {
        int n = 20_000;
        Map<String, Object> r = new LinkedHashMap<>();
        try (NDManager m = NDManager.newBaseManager(ctx.device())) {
            NDArray y = m.ones(new Shape(64), ctx.dtype());
            r.put("add_tensor", perOp(n, y, x -> x.add(y)));
            r.put("add_java_scalar", perOp(n, y, x -> x.add(1f)));
            r.put("add_host_scalar", perOp(n, y, x -> HostScalars.add(x, 1)));
            r.put("reshape_view", perOp(n, y, x -> x.reshape(8, 8).reshape(64)) / 2);
        }
        return r;
    }

    private static double perOp(int n, NDArray seed, java.util.function.UnaryOperator<NDArray> op) {
        double best = Double.MAX_VALUE;
        for (int round = 0; round < 3; round++) {
            try (NDScope s = new NDScope()) {
                NDArray x = seed.duplicate();
                long t0 = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    x = op.apply(x);
                }
                long t = System.nanoTime() - t0;
                sync(x);
                best = Math.min(best, t / 1e3 / n);
            }
        }
        return best;
    }
}
