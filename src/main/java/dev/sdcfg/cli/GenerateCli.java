package dev.sdcfg.cli;

import dev.sdcfg.model.EmbeddedDemoModel;
import dev.sdcfg.pipeline.GeneratedImage;
import dev.sdcfg.pipeline.GenerationListener;
import dev.sdcfg.pipeline.GenerationRequest;
import dev.sdcfg.pipeline.GenerationResult;
import dev.sdcfg.pipeline.InvalidRequestException;
import dev.sdcfg.pipeline.PipelineOptions;
import dev.sdcfg.pipeline.SamplerOverrides;
import dev.sdcfg.pipeline.StableDiffusionPipeline;
import dev.sdcfg.pipeline.image.ImageGrid;
import dev.sdcfg.pipeline.image.PngEncoder;
import dev.sdcfg.guidance.GuidanceSpec;
import dev.sdcfg.runtime.ComputeContext;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Command-line generation without the server: one image per guidance spec (repeat {@code --guidance} to compare
 * several under the same prompt and seed; a titled grid is written beside them). See README "Command line".
 */
public final class GenerateCli {

    private GenerateCli() {
    }

    static final String USAGE = String.join("\n",
            "usage: GenerateCli --prompt TEXT [options]",
            "  --model DIR            diffusers folder (default: the embedded tiny demo model, random weights)",
            "  --negative TEXT        negative prompt (default empty)",
            "  --seed N               seed of the first image (default 0); image i uses seed+i",
            "  --steps N              denoising steps (default 50)",
            "  --sampler NAME         " + String.join(", ", dev.sdcfg.sampler.SamplerFactory.names()),
            "  --sampler-options JSON per-request scheduler config overrides",
            "  --guidance SPEC        a number, a JSON spec or a preset name; repeat to compare (default 7.5)",
            "  --width PX --height PX multiples of 8 (default: the model's native size)",
            "  --n N                  images per spec (default 1)",
            "  --device D --dtype T   auto|cpu|gpu[:N]; auto|float32|float16",
            "  --out FILE.png         output (default out.png; several images get -<spec>-<i> suffixes, plus -grid)");

    public static void main(String[] argv) throws IOException {
        String prompt = null;
        String negative = "";
        String model = null;
        long seed = 0;
        int steps = 50;
        String sampler = null;
        String samplerOptions = null;
        List<String> guidance = new ArrayList<>();
        Integer width = null;
        Integer height = null;
        int n = 1;
        String device = "auto";
        String dtype = "auto";
        String out = "out.png";
        for (int i = 0; i < argv.length; i++) {
            String k = argv[i];
            if (k.equals("--help") || k.equals("-h")) {
                System.out.println(USAGE);
                return;
            }
            if (i + 1 >= argv.length) {
                fail("missing value for " + k);
            }
            String v = argv[++i];
            switch (k) {
                case "--prompt": prompt = v; break;
                case "--negative": negative = v; break;
                case "--model": model = v; break;
                case "--seed": seed = Long.parseLong(v); break;
                case "--steps": steps = Integer.parseInt(v); break;
                case "--sampler": sampler = v; break;
                case "--sampler-options": samplerOptions = v; break;
                case "--guidance": guidance.add(v); break;
                case "--width": width = Integer.parseInt(v); break;
                case "--height": height = Integer.parseInt(v); break;
                case "--n": n = Integer.parseInt(v); break;
                case "--device": device = v; break;
                case "--dtype": dtype = v; break;
                case "--out": out = v; break;
                default: fail("unknown option " + k);
            }
        }
        if (prompt == null) {
            fail("--prompt is required");
        }
        if (guidance.isEmpty()) {
            guidance.add(null);
        }
        Path modelDir = model == null ? EmbeddedDemoModel.folder() : Paths.get(model);
        if (model == null) {
            System.err.println("note: no --model given: using the embedded tiny demo model (random weights: noise)");
        }
        ComputeContext ctx = ComputeContext.resolve(device, dtype);
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(modelDir, ctx, PipelineOptions.defaults())) {
            int w = width == null ? pipe.nativeSize() : width;
            int h = height == null ? pipe.nativeSize() : height;
            Path outPath = Paths.get(out).toAbsolutePath();
            Files.createDirectories(outPath.getParent());
            List<BufferedImage> tiles = new ArrayList<>();
            List<String> titles = new ArrayList<>();
            int specIndex = 0;
            for (String g : guidance) {
                GenerationRequest req = null;
                try {
                    req = new GenerationRequest(prompt, negative, w, h, steps, sampler,
                            SamplerOverrides.parse(samplerOptions), GuidanceSpec.parse(g == null ? null : asJson(g)),
                            seed, n);
                    pipe.validate(req);
                } catch (InvalidRequestException e) {
                    fail(e.field() + ": " + e.getMessage());
                }
                String label = req.guidance().label();
                long t0 = System.nanoTime();
                GenerationResult res = pipe.generate(req, new GenerationListener() {
                    @Override
                    public void onStep(int image, int step, int total, long nanos) {
                        if (step + 1 == total || (step + 1) % 10 == 0) {
                            System.err.printf("  [%s] image %d: step %d/%d%n", label, image, step + 1, total);
                        }
                    }
                });
                System.err.printf("%s: %d image(s) in %.1f s%n", label, res.images().size(), (System.nanoTime() - t0) / 1e9);
                res.warnings().forEach(x -> System.err.println("warning: " + x));
                for (GeneratedImage img : res.images()) {
                    boolean single = guidance.size() == 1 && res.images().size() == 1;
                    Path p = single ? outPath : sibling(outPath, "-" + specIndex + "-" + (img.seed() - seed));
                    Files.write(p, img.png());
                    System.out.println(p.toAbsolutePath() + "  seed=" + img.seed() + "  guidance=" + label);
                    tiles.add(PngEncoder.decode(img.png()));
                    titles.add(label + " seed " + img.seed());
                }
                specIndex++;
            }
            if (tiles.size() > 1) {
                BufferedImage grid = ImageGrid.compose(tiles, titles, Math.min(tiles.size(), 5));
                Path p = sibling(outPath, "-grid");
                Files.write(p, PngEncoder.encode(grid, Map.of("prompt", prompt, "seed", Long.toString(seed))));
                System.out.println(p.toAbsolutePath() + "  (grid)");
            }
        }
    }

    /** A preset name is accepted bare; anything else must be JSON (a number or an object). */
    static String asJson(String g) {
        String s = g.trim();
        if (s.startsWith("{") || s.startsWith("[") || s.startsWith("\"") || s.matches("[-+0-9.eE]+")) {
            return s;
        }
        return "{\"preset\":\"" + s.replace("\"", "") + "\"}";
    }

    private static Path sibling(Path p, String suffix) {
        String name = p.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String stem = dot < 0 ? name : name.substring(0, dot);
        String ext = dot < 0 ? ".png" : name.substring(dot);
        return p.resolveSibling(stem + suffix + ext);
    }

    private static void fail(String message) {
        System.err.println("error: " + message);
        System.err.println(USAGE);
        System.exit(2);
    }
}
