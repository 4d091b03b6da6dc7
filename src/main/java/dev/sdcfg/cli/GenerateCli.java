package dev.sdcfg.cli;

import dev.sdcfg.model.EmbeddedDemoModel;
import dev.sdcfg.pipeline.GeneratedImage;
import dev.sdcfg.pipeline.GenerationListener;
import dev.sdcfg.pipeline.GenerationRequest;
import dev.sdcfg.pipeline.GenerationResult;
import dev.sdcfg.pipeline.HiresFix;
import dev.sdcfg.pipeline.Img2ImgInput;
import dev.sdcfg.pipeline.InitImage;
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
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Command-line generation without the server: one image per guidance spec (repeat {@code --guidance} to compare
 * several under the same prompt and seed; a titled grid is written beside them), optionally from a start image
 * (image to image, inpainting with a mask) or with A1111's hires second pass. The image-to-image and hires flags are
 * the HTTP request's fields under their flag names, bounded and defaulted by the same code
 * ({@link Img2ImgInput#checkFields}, {@link HiresFix#fromRequest}). See README "Command line".
 */
public final class GenerateCli {

    private GenerateCli() {
    }

    /** Exit status of a command line the generator refuses (an unknown flag, a bad value, a request it cannot run). */
    static final int USAGE_ERROR = 2;

    static final String USAGE = String.join("\n",
            "usage: GenerateCli --prompt TEXT [options]",
            "  --model DIR            diffusers folder (default: the embedded demo model, 64 px scenes)",
            "  --negative TEXT        negative prompt (default empty)",
            "  --seed N               seed of the first image (default 0); image i uses seed+i",
            "  --steps N              denoising steps (default 50)",
            "  --sampler NAME         " + String.join(", ", dev.sdcfg.sampler.SamplerFactory.names()),
            "  --sampler-options JSON per-request scheduler config overrides",
            "  --guidance SPEC        a number, a JSON spec or a preset name; repeat to compare (default 7.5)",
            "  --width PX --height PX multiples of 8 (default: the model's native size, or the init image's)",
            "  --n N                  images per spec (default 1)",
            "  --device D --dtype T   auto|cpu|gpu[:N]; auto|float32|float16",
            "  --out FILE.png         output (default out.png; several images get -<spec>-<i> suffixes, plus -grid)",
            "image to image and inpainting (as init_image, mask, ... of the HTTP API):",
            "  --init-image FILE      start image, PNG, JPEG or lossless WebP; the output has its size",
            "  --strength S           0..1, how much of the schedule re-draws it (default 0.8; 1 with --mask)",
            "  --mask FILE            inpainting mask of the image's size: white repaints, black keeps",
            "  --mask-blur PX         with --mask: blur the mask first, 0.." + Img2ImgInput.MAX_MASK_BLUR
                    + " (default 0)",
            "  --inpaint-full-res     with --mask: inpaint only the mask's box at full size and paste it back",
            "  --inpaint-full-res-padding PX  pixels around that box, 0.." + Img2ImgInput.MAX_FULL_RES_PADDING
                    + " (default " + Img2ImgInput.DEFAULT_FULL_RES_PADDING + ")",
            "  --masked-content M     with --mask: original (default), fill, latent_noise or latent_nothing",
            "high-resolution second pass (A1111's hires fix; any of these turns it on, as the API's hires object):",
            "  --hires                the second pass with the defaults below",
            "  --hires-scale X        upscale factor, " + HiresFix.MIN_SCALE + ".." + HiresFix.MAX_SCALE
                    + " (default " + HiresFix.DEFAULT_SCALE + "); sides rounded down to multiples of 8",
            "  --hires-steps N        the second pass's steps, 0.." + GuidanceSpec.MAX_STEPS
                    + " (default 0: the first pass's)",
            "  --hires-strength S     its denoising strength, 0..1 (default " + HiresFix.DEFAULT_STRENGTH + ")",
            "  --hires-upscaler U     latent (default) or lanczos");

    /** Flags that take no value. */
    private static final Set<String> SWITCHES = Set.of("--hires", "--inpaint-full-res");

    /** A command line the generator refuses: the message, and whether the usage text helps. */
    private static final class UsageException extends RuntimeException {
        private final boolean showUsage;

        UsageException(String message, boolean showUsage) {
            super(message);
            this.showUsage = showUsage;
        }
    }

    public static void main(String[] argv) throws IOException {
        int status = run(argv, System.out, System.err);
        if (status != 0) {
            System.exit(status);
        }
    }

    /**
     * Runs one command line: the files written are listed on {@code out}, progress and errors go to {@code err}.
     * Returns 0, or {@link #USAGE_ERROR} for a command line it refuses (the reason on {@code err}).
     */
    static int run(String[] argv, PrintStream out, PrintStream err) throws IOException {
        try {
            generate(argv, out, err);
            return 0;
        } catch (UsageException e) {
            err.println("error: " + e.getMessage().replace("\n", "\nerror: "));
            if (e.showUsage) {
                err.println(USAGE);
            } else {
                err.println("(--help lists the options)");
            }
            return USAGE_ERROR;
        }
    }

    private static void generate(String[] argv, PrintStream out, PrintStream err) throws IOException {
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
        String outFile = "out.png";
        String initImage = null;
        Double strength = null;
        String mask = null;
        Integer maskBlur = null;
        Boolean fullRes = null;
        Integer fullResPadding = null;
        String maskedContent = null;
        boolean hires = false;
        Double hiresScale = null;
        Integer hiresSteps = null;
        Double hiresStrength = null;
        String hiresUpscaler = null;
        for (int i = 0; i < argv.length; i++) {
            String k = argv[i];
            if (k.equals("--help") || k.equals("-h")) {
                out.println(USAGE);
                return;
            }
            if (SWITCHES.contains(k)) {
                if (k.equals("--hires")) {
                    hires = true;
                } else {
                    fullRes = true;
                }
                continue;
            }
            if (i + 1 >= argv.length) {
                throw new UsageException("missing value for " + k, true);
            }
            String v = argv[++i];
            switch (k) {
                case "--prompt": prompt = v; break;
                case "--negative": negative = v; break;
                case "--model": model = v; break;
                case "--seed": seed = longArg(k, v); break;
                case "--steps": steps = intArg(k, v); break;
                case "--sampler": sampler = v; break;
                case "--sampler-options": samplerOptions = v; break;
                case "--guidance": guidance.add(v); break;
                case "--width": width = intArg(k, v); break;
                case "--height": height = intArg(k, v); break;
                case "--n": n = intArg(k, v); break;
                case "--device": device = v; break;
                case "--dtype": dtype = v; break;
                case "--out": outFile = v; break;
                case "--init-image": initImage = v; break;
                case "--strength": strength = doubleArg(k, v); break;
                case "--mask": mask = v; break;
                case "--mask-blur": maskBlur = intArg(k, v); break;
                case "--inpaint-full-res-padding": fullResPadding = intArg(k, v); break;
                case "--masked-content": maskedContent = v; break;
                case "--hires-scale": hires = true; hiresScale = doubleArg(k, v); break;
                case "--hires-steps": hires = true; hiresSteps = intArg(k, v); break;
                case "--hires-strength": hires = true; hiresStrength = doubleArg(k, v); break;
                case "--hires-upscaler": hires = true; hiresUpscaler = v; break;
                default: throw new UsageException("unknown option " + k, true);
            }
        }
        if (prompt == null) {
            throw new UsageException("--prompt is required", true);
        }
        List<String> problems = new ArrayList<>();
        Img2ImgInput.checkFields(initImage != null, strength, mask != null, maskBlur, fullRes, fullResPadding,
                maskedContent, (field, rule) -> problems.add(flag(field) + ": " + rule));
        HiresFix hiresFix = !hires ? null : HiresFix.fromRequest(hiresScale, hiresSteps, hiresStrength,
                hiresUpscaler, GuidanceSpec.MAX_STEPS, (member, rule) -> problems.add("--hires-" + member + ": " + rule));
        if (!problems.isEmpty()) {
            throw new UsageException(String.join("\n", problems), false);
        }
        PipelineOptions options = PipelineOptions.defaults();
        Img2ImgInput img2img = null;
        if (initImage != null) {
            try {
                img2img = Img2ImgInput.withDefaults(
                        InitImage.decode(read("--init-image", initImage), Img2ImgInput.INIT_IMAGE, options.maxPixels()),
                        mask == null ? null : InitImage.decode(read("--mask", mask), Img2ImgInput.MASK,
                                options.maxPixels()),
                        strength, maskBlur, fullRes, fullResPadding, maskedContent);
            } catch (InvalidRequestException e) {
                throw refused(e);
            }
        }
        if (guidance.isEmpty()) {
            guidance.add(null);
        }
        Path modelDir = model == null ? EmbeddedDemoModel.folder() : Paths.get(model);
        if (model == null) {
            err.println("note: no --model given: using the embedded demo model (64 px scenes of coloured shapes, e.g. \"a red circle on a blue background\")");
        }
        ComputeContext ctx = ComputeContext.resolve(device, dtype);
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(modelDir, ctx, options)) {
            int w = width != null ? width : img2img != null ? img2img.image().width() : pipe.nativeSize();
            int h = height != null ? height : img2img != null ? img2img.image().height() : pipe.nativeSize();
            Path outPath = Paths.get(outFile).toAbsolutePath();
            Files.createDirectories(outPath.getParent());
            List<BufferedImage> tiles = new ArrayList<>();
            List<String> titles = new ArrayList<>();
            int specIndex = 0;
            for (String g : guidance) {
                GenerationRequest req;
                try {
                    req = new GenerationRequest(prompt, negative, w, h, steps, sampler,
                            SamplerOverrides.parse(samplerOptions), GuidanceSpec.parse(g == null ? null : asJson(g)),
                            seed, n, img2img, null, null, null, null, hiresFix);
                    pipe.validate(req);
                } catch (InvalidRequestException e) {
                    throw refused(e);
                }
                String label = req.guidance().label();
                long t0 = System.nanoTime();
                GenerationResult res = pipe.generate(req, new GenerationListener() {
                    @Override
                    public void onStep(int image, int step, int total, long nanos) {
                        if (step + 1 == total || (step + 1) % 10 == 0) {
                            err.printf("  [%s] image %d: step %d/%d%n", label, image, step + 1, total);
                        }
                    }
                });
                err.printf("%s: %d image(s) in %.1f s%n", label, res.images().size(), (System.nanoTime() - t0) / 1e9);
                res.warnings().forEach(x -> err.println("warning: " + x));
                for (GeneratedImage img : res.images()) {
                    boolean single = guidance.size() == 1 && res.images().size() == 1;
                    Path p = single ? outPath : sibling(outPath, "-" + specIndex + "-" + (img.seed() - seed));
                    Files.write(p, img.png());
                    out.println(p.toAbsolutePath() + "  seed=" + img.seed() + "  guidance=" + label);
                    tiles.add(PngEncoder.decode(img.png()));
                    titles.add(label + " seed " + img.seed());
                }
                specIndex++;
            }
            if (tiles.size() > 1) {
                BufferedImage grid = ImageGrid.compose(tiles, titles, Math.min(tiles.size(), 5));
                Path p = sibling(outPath, "-grid");
                Files.write(p, PngEncoder.encode(grid, Map.of("prompt", prompt, "seed", Long.toString(seed))));
                out.println(p.toAbsolutePath() + "  (grid)");
            }
        }
    }

    /** A request field as the flag that sets it: hires.scale is --hires-scale, negative_prompt --negative. */
    static String flag(String field) {
        if (field == null || field.isEmpty()) {
            return "request";
        }
        if (field.equals("negative_prompt")) {
            return "--negative";
        }
        if (field.startsWith("guidance.") || field.startsWith("guidance[")) {
            return "--guidance (" + field + ")";
        }
        return "--" + field.replace('_', '-').replace('.', '-');
    }

    /** What the engine refuses, named by its flag. */
    private static UsageException refused(InvalidRequestException e) {
        return new UsageException(flag(e.field()) + ": " + e.getMessage(), false);
    }

    private static byte[] read(String flag, String file) {
        try {
            return Files.readAllBytes(Paths.get(file));
        } catch (IOException e) {
            throw new UsageException(flag + ": cannot read " + file + " (" + e + ")", false);
        }
    }

    private static int intArg(String flag, String v) {
        try {
            return Integer.parseInt(v.strip());
        } catch (NumberFormatException e) {
            throw new UsageException(flag + ": must be an integer, got '" + v + "'", false);
        }
    }

    private static long longArg(String flag, String v) {
        try {
            return Long.parseLong(v.strip());
        } catch (NumberFormatException e) {
            throw new UsageException(flag + ": must be an integer, got '" + v + "'", false);
        }
    }

    private static double doubleArg(String flag, String v) {
        try {
            double d = Double.parseDouble(v.strip());
            if (Double.isFinite(d)) {
                return d;
            }
        } catch (NumberFormatException e) {
            // refused below
        }
        throw new UsageException(flag + ": must be a finite number, got '" + v + "'", false);
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
}
