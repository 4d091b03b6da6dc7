package dev.sdcfg.cli;

import dev.sdcfg.pipeline.image.PngEncoder;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link GenerateCli#run} as the command line runs it, on the embedded demo model (64×64): the hires flags scale the
 * output as the API's hires object does, the image-to-image and inpainting flags reach the engine, and a bad value
 * is a clear error naming the flag, exit status 2 and no file.
 */
class GenerateCliTest {

    @TempDir
    Path dir;

    /** What one command line printed and returned. */
    private record Run(int status, String out, String err) {
    }

    private Run cli(String... args) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = GenerateCli.run(args, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** The demo-model command line writing {@code out}, plus {@code extra}. */
    private String[] args(Path out, String... extra) {
        List<String> a = new ArrayList<>(List.of("--prompt", "a red circle on a blue background", "--seed", "3",
                "--steps", "4", "--device", "cpu", "--out", out.toString()));
        a.addAll(Arrays.asList(extra));
        return a.toArray(String[]::new);
    }

    private static BufferedImage image(Path p) throws IOException {
        return ImageIO.read(p.toFile());
    }

    @Test
    void hiresFlagsScaleTheOutput() throws IOException {
        // the demo model's native size is 64 (imageToImageAndInpaintingFlags: the output keeps the start's 64)
        Path scaled = dir.resolve("scaled.png");
        Run r = cli(args(scaled, "--hires-scale", "1.5"));
        assertEquals(0, r.status(), r.err());
        assertEquals(96, image(scaled).getWidth());
        assertEquals(96, image(scaled).getHeight());
        assertEquals("{\"scale\":1.5,\"steps\":0,\"strength\":0.75,\"upscaler\":\"latent\"}",
                PngEncoder.readText(Files.readAllBytes(scaled)).get("hires"), "the API's defaults fill the rest");

        Path defaults = dir.resolve("defaults.png");
        assertEquals(0, cli(args(defaults, "--hires")).status());
        assertEquals(128, image(defaults).getWidth(), "default scale 2");

        Path lanczos = dir.resolve("lanczos.png");
        r = cli(args(lanczos, "--hires-scale", "1.3", "--hires-steps", "6", "--hires-strength", "0.5",
                "--hires-upscaler", "lanczos"));
        assertEquals(0, r.status(), r.err());
        assertEquals(80, image(lanczos).getWidth(), "int(64 × 1.3) = 83, rounded down to a multiple of 8");
        assertEquals("{\"scale\":1.3,\"steps\":6,\"strength\":0.5,\"upscaler\":\"lanczos\"}",
                PngEncoder.readText(Files.readAllBytes(lanczos)).get("hires"));
    }

    /** Exit status 2, nothing written, and the error names {@code flag} with {@code message}. */
    private void refused(String flag, String message, String... extra) throws IOException {
        Path out = dir.resolve("refused.png");
        Run r = cli(args(out, extra));
        assertEquals(GenerateCli.USAGE_ERROR, r.status(), String.join(" ", extra) + ": " + r.err());
        assertTrue(r.err().contains("error: " + flag + ": "), r.err());
        assertTrue(r.err().contains(message), r.err());
        assertFalse(Files.exists(out), "a refused command line writes nothing");
    }

    @Test
    void badHiresValuesAreRefused() throws IOException {
        refused("--hires-scale", "must be between 1.0 and 4.0", "--hires-scale", "5");
        refused("--hires-scale", "must be between 1.0 and 4.0", "--hires-scale", "0.5");
        refused("--hires-scale", "must be a finite number, got 'big'", "--hires-scale", "big");
        refused("--hires-steps", "must be between 0 (the first pass's steps) and 1000", "--hires-steps", "-1");
        refused("--hires-strength", "must be between 0 and 1", "--hires-strength", "1.5");
        refused("--hires-upscaler", "must be latent or lanczos", "--hires-upscaler", "nearest");
        refused("--hires-upscaler", "must be latent or lanczos", "--hires-upscaler", "Latent");
        // the engine's own check: 4 steps × 0.1 leave the second pass no step
        refused("--hires-strength", "leaves the second pass no step to run", "--hires-strength", "0.1");
    }

    /** 64×64 RGB gradient; and a mask, white (repaint) in x 24..35, y 20..29. */
    private Path[] startImages() throws IOException {
        BufferedImage img = new BufferedImage(64, 64, BufferedImage.TYPE_INT_RGB);
        BufferedImage mask = new BufferedImage(64, 64, BufferedImage.TYPE_BYTE_GRAY);
        for (int y = 0; y < 64; y++) {
            for (int x = 0; x < 64; x++) {
                img.setRGB(x, y, (x * 4) << 16 | (y * 4) << 8 | 0x80);
                if (x >= 24 && x < 36 && y >= 20 && y < 30) {
                    mask.getRaster().setSample(x, y, 0, 255);
                }
            }
        }
        Path i = dir.resolve("init.png");
        Path m = dir.resolve("mask.png");
        ImageIO.write(img, "png", i.toFile());
        ImageIO.write(mask, "png", m.toFile());
        return new Path[] {i, m};
    }

    @Test
    void imageToImageAndInpaintingFlags() throws IOException {
        Path[] start = startImages();
        Path img2img = dir.resolve("img2img.png");
        Run r = cli(args(img2img, "--init-image", start[0].toString(), "--strength", "0.5"));
        assertEquals(0, r.status(), r.err());
        assertEquals(64, image(img2img).getWidth(), "the init image's size");
        assertEquals("0.5", PngEncoder.readText(Files.readAllBytes(img2img)).get("strength"));

        Path inpaint = dir.resolve("inpaint.png");
        r = cli(args(inpaint, "--init-image", start[0].toString(), "--mask", start[1].toString(), "--strength", "0.75",
                "--mask-blur", "2", "--inpaint-full-res", "--inpaint-full-res-padding", "8",
                "--masked-content", "fill"));
        assertEquals(0, r.status(), r.err());
        Map<String, String> text = PngEncoder.readText(Files.readAllBytes(inpaint));
        assertEquals("0.75", text.get("strength"));
        assertEquals("2", text.get("mask_blur"));
        assertEquals("8", text.get("inpaint_full_res_padding"));
        assertEquals("fill", text.get("masked_content"));
        // only masked: far from the (blurred) mask the pixels are the start image's exactly
        BufferedImage before = image(start[0]);
        BufferedImage after = image(inpaint);
        boolean repainted = false;
        for (int y = 0; y < 64; y++) {
            for (int x = 0; x < 64; x++) {
                boolean near = x >= 16 && x < 44 && y >= 12 && y < 38;
                if (!near) {
                    assertEquals(before.getRGB(x, y), after.getRGB(x, y), "kept at " + x + "," + y);
                } else if (before.getRGB(x, y) != after.getRGB(x, y)) {
                    repainted = true;
                }
            }
        }
        assertTrue(repainted, "the masked box is repainted");
    }

    @Test
    void badImageToImageValuesAreRefused() throws IOException {
        Path[] start = startImages();
        String init = start[0].toString();
        String mask = start[1].toString();
        refused("--mask", "only with init_image", "--mask", mask);
        refused("--strength", "only with init_image", "--strength", "0.5");
        refused("--strength", "must be between 0 and 1", "--init-image", init, "--strength", "2");
        refused("--mask-blur", "must be between 0 and 64", "--init-image", init, "--mask", mask, "--mask-blur", "65");
        refused("--mask-blur", "only with mask", "--init-image", init, "--mask-blur", "4");
        refused("--masked-content", "must be original, fill, latent_noise or latent_nothing", "--init-image", init,
                "--mask", mask, "--masked-content", "noise");
        refused("--inpaint-full-res-padding", "only with inpaint_full_res true", "--init-image", init, "--mask", mask,
                "--inpaint-full-res-padding", "8");
        refused("--init-image", "cannot read", "--init-image", dir.resolve("missing.png").toString());
        refused("--hires", "cannot be combined with init_image", "--init-image", init, "--hires");
    }

    @Test
    void helpListsTheNewFlags() throws IOException {
        Run r = cli("--help");
        assertEquals(0, r.status());
        for (String flag : List.of("--hires-scale", "--hires-steps", "--hires-strength", "--hires-upscaler",
                "--init-image", "--strength", "--mask", "--mask-blur", "--inpaint-full-res",
                "--inpaint-full-res-padding", "--masked-content")) {
            assertTrue(r.out().contains(flag + " "), flag + " missing from --help");
        }
        Run unknown = cli("--prompt", "x", "--hires-scales", "2");
        assertEquals(GenerateCli.USAGE_ERROR, unknown.status());
        assertTrue(unknown.err().contains("unknown option --hires-scales"), unknown.err());
    }
}
