package dev.sdcfg.eval;

import dev.sdcfg.guidance.GuidanceSpec;
import dev.sdcfg.model.EmbeddedDemoModel;
import dev.sdcfg.pipeline.GeneratedImage;
import dev.sdcfg.pipeline.GenerationListener;
import dev.sdcfg.pipeline.GenerationRequest;
import dev.sdcfg.pipeline.GenerationResult;
import dev.sdcfg.pipeline.PipelineOptions;
import dev.sdcfg.pipeline.SamplerOverrides;
import dev.sdcfg.pipeline.StableDiffusionPipeline;
import dev.sdcfg.pipeline.image.PngEncoder;
import dev.sdcfg.runtime.ComputeContext;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Guidance, measured on the demo world: every normalizer × schedule × strength generates each prompt with several
 * seeds; {@link SceneAnalyzer} reads the images and {@link ScenePrompt} scores them. Per guidance spec it reports
 * prompt adherence (share of asked attributes right, and of images with every asked attribute right), colour
 * statistics (mean HSV saturation, share of 8-bit channel values clipped at 0 or 255) and diversity across seeds
 * (mean pairwise RMS difference of the images of one prompt, 0..1). Writes {@code guidance-eval.csv},
 * {@code guidance-eval.md} (a table) and {@code guidance-eval.png} (adherence and saturation against strength) to
 * {@code --out}.
 *
 * <pre>java -cp target/quarkus-app/lib/main/*:target/classes dev.sdcfg.eval.GuidanceEvaluation --out docs</pre>
 */
public final class GuidanceEvaluation {

    /** Prompts of the demo grammar: in-distribution ones, then ones whose colour/shape pair training never saw. */
    static final List<String> PROMPTS = List.of(
            "a red circle on a blue background",
            "a yellow star on a black background",
            "a large white square on the left on a green background",
            "a blue triangle at the top on a yellow background",
            "a red ring on the left and a blue square on the right on a white background",
            "a green star on a white background",
            "a purple ring on a yellow background",
            "an orange cross on a black background");
    /** How many of {@link #PROMPTS} are held out (the last ones; scenes.HELD_OUT pairs). */
    static final int HELD_OUT = 3;

    static final List<String> NORMALIZERS = List.of("none", "basenorm", "tnorm", "fullnorm", "rescale", "apg",
            "cfg-zero-star");
    static final List<String> SCHEDULES = List.of("constant", "cosine", "cosine-warmup", "interval");

    /**
     * The strengths swept per normalizer: tnorm/fullnorm's g is relative to ‖u‖ (the notebook's 0.15 ≈ CFG 7.5). Four
     * per normalizer keep the whole grid to 114 cells × 8 prompts × 4 seeds: 12 minutes including the build at 15
     * Euler steps on two otherwise idle CPU cores (measured 2026-12-05, docs/GUIDANCE.md), about 6 s a cell.
     */
    static double[] strengths(String normalizer) {
        return normalizer.equals("tnorm") || normalizer.equals("fullnorm")
                ? new double[] {0.05, 0.15, 0.25, 0.4}
                : new double[] {2, 5, 7.5, 12};
    }

    /** The spec for one cell: {@code g} follows the schedule, with its maximum at the strength. */
    static String spec(String normalizer, String schedule, double g) {
        String gs = switch (schedule) {
            case "constant", "interval" -> num(g);
            case "cosine" -> "{\"schedule\":\"cosine\",\"max\":" + num(g) + ",\"min\":" + num(g * 0.2) + "}";
            case "cosine-warmup" -> "{\"schedule\":\"cosine\",\"max\":" + num(g) + ",\"min\":" + num(g * 0.2)
                    + ",\"warmup\":0.2}";
            default -> throw new IllegalArgumentException(schedule);
        };
        String interval = schedule.equals("interval") ? ",\"interval\":{\"start\":0.2,\"end\":0.8}" : "";
        return "{\"normalizer\":\"" + normalizer + "\",\"g\":" + gs + interval + "}";
    }

    /** One grid cell's figures. */
    record Row(String normalizer, String schedule, double strength, String label, int images, double attributes,
            double allRight, double allRightHeldOut, double saturation, double clipped, double diversity) {
    }

    private GuidanceEvaluation() {
    }

    public static void main(String[] argv) throws IOException {
        Map<String, String> a = options(argv);
        Path model = a.containsKey("--model") ? Paths.get(a.get("--model")) : EmbeddedDemoModel.folder();
        Path out = Paths.get(a.getOrDefault("--out", "target/guidance-eval"));
        int seeds = Integer.parseInt(a.getOrDefault("--seeds", "4"));
        int steps = Integer.parseInt(a.getOrDefault("--steps", "20"));
        String sampler = a.get("--sampler");
        boolean quick = a.containsKey("--quick");
        Files.createDirectories(out);
        List<Row> rows = new ArrayList<>();
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(model, ComputeContext.resolve("auto", "auto"),
                PipelineOptions.defaults())) {
            int size = pipe.nativeSize();
            // references: guidance off (g = 1: the conditional prediction alone) and unconditional (g = 0)
            rows.add(evaluate(pipe, "none", "constant", 1, spec("none", "constant", 1), size, steps, sampler, seeds));
            rows.add(evaluate(pipe, "none", "constant", 0, spec("none", "constant", 0), size, steps, sampler, seeds));
            for (String n : NORMALIZERS) {
                for (String s : quick ? List.of("constant") : SCHEDULES) {
                    for (double g : strengths(n)) {
                        rows.add(evaluate(pipe, n, s, g, spec(n, s, g), size, steps, sampler, seeds));
                    }
                }
            }
        }
        Files.writeString(out.resolve("guidance-eval.csv"), csv(rows), StandardCharsets.UTF_8);
        Files.writeString(out.resolve("guidance-eval.md"), markdown(rows, seeds, steps, sampler), StandardCharsets.UTF_8);
        Files.write(out.resolve("guidance-eval.png"), PngEncoder.encode(EvaluationPlot.draw(rows), Map.of()));
        System.out.println("wrote " + out.toAbsolutePath().resolve("guidance-eval.{csv,md,png}"));
    }

    static Row evaluate(StableDiffusionPipeline pipe, String normalizer, String schedule, double g, String specJson,
            int size, int steps, String sampler, int seeds) {
        GuidanceSpec spec = GuidanceSpec.parse(specJson);
        double attributes = 0;
        int asked = 0;
        int allRight = 0;
        int allRightHeldOut = 0;
        double saturation = 0;
        double clipped = 0;
        double diversity = 0;
        int images = 0;
        for (int p = 0; p < PROMPTS.size(); p++) {
            ScenePrompt prompt = ScenePrompt.parse(PROMPTS.get(p));
            GenerationRequest req = new GenerationRequest(PROMPTS.get(p), "", size, size, steps, sampler,
                    SamplerOverrides.NONE, spec, 1000L * p, seeds);
            GenerationResult res = pipe.generate(req, GenerationListener.NONE);
            List<BufferedImage> decoded = new ArrayList<>();
            for (GeneratedImage gi : res.images()) {
                BufferedImage img = PngEncoder.decode(gi.png());
                decoded.add(img);
                Map<String, Boolean> score = prompt.score(SceneAnalyzer.read(img));
                for (boolean ok : score.values()) {
                    attributes += ok ? 1 : 0;
                    asked++;
                }
                boolean all = !score.containsValue(false);
                allRight += all ? 1 : 0;
                allRightHeldOut += all && p >= PROMPTS.size() - HELD_OUT ? 1 : 0;
                double[] c = ImageStats.colour(img);
                saturation += c[0];
                clipped += c[1];
                images++;
            }
            diversity += ImageStats.meanPairwiseRms(decoded);
        }
        Row r = new Row(normalizer, schedule, g, spec.label(), images, attributes / asked, (double) allRight / images,
                (double) allRightHeldOut / (HELD_OUT * seeds), saturation / images, clipped / images,
                diversity / PROMPTS.size());
        System.err.printf(Locale.ROOT, "%-14s %-14s g=%-5s attributes %.3f  all %.3f  held-out %.3f  sat %.3f  clip %.4f"
                + "  div %.3f%n", normalizer, schedule, num(g), r.attributes(), r.allRight(), r.allRightHeldOut(),
                r.saturation(), r.clipped(), r.diversity());
        return r;
    }

    static String csv(List<Row> rows) {
        StringBuilder b = new StringBuilder("normalizer,schedule,strength,label,images,attributes,all_right,"
                + "all_right_held_out,saturation,clipped,diversity\n");
        for (Row r : rows) {
            b.append(String.format(Locale.ROOT, "%s,%s,%s,\"%s\",%d,%.4f,%.4f,%.4f,%.4f,%.5f,%.4f%n", r.normalizer(),
                    r.schedule(), num(r.strength()), r.label().replace("\"", "\"\""), r.images(), r.attributes(),
                    r.allRight(), r.allRightHeldOut(), r.saturation(), r.clipped(), r.diversity()));
        }
        return b.toString();
    }

    static String markdown(List<Row> rows, int seeds, int steps, String sampler) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%d prompts (%d held out) × %d seeds, %d steps, sampler %s.%n%n",
                PROMPTS.size(), HELD_OUT, seeds, steps, sampler == null ? "the model's default" : sampler));
        b.append("| guidance | attributes right | all right | all right (held-out) | saturation | clipped | diversity |\n");
        b.append("|---|---|---|---|---|---|---|\n");
        for (Row r : rows) {
            b.append(String.format(Locale.ROOT, "| %s | %.1f %% | %.1f %% | %.1f %% | %.3f | %.2f %% | %.3f |%n",
                    r.label(), 100 * r.attributes(), 100 * r.allRight(), 100 * r.allRightHeldOut(), r.saturation(),
                    100 * r.clipped(), r.diversity()));
        }
        return b.toString();
    }

    static String num(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e9 ? Long.toString((long) v) : Double.toString(v);
    }

    private static Map<String, String> options(String[] argv) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i < argv.length; i++) {
            if (argv[i].equals("--quick")) {
                m.put("--quick", "true");
            } else if (i + 1 < argv.length && argv[i].startsWith("--")) {
                m.put(argv[i], argv[++i]);
            } else {
                throw new IllegalArgumentException("usage: GuidanceEvaluation [--model DIR] [--out DIR] [--seeds N]"
                        + " [--steps N] [--sampler NAME] [--quick]; got " + argv[i]);
            }
        }
        return m;
    }
}
