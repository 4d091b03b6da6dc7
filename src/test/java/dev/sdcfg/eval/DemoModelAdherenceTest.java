package dev.sdcfg.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

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
import dev.sdcfg.sampler.SamplerFactory;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The semantic end-to-end check on the embedded (trained) demo model: the picture must show what the prompt asks.
 * Numeric goldens prove that each part computes what diffusers computes; they cannot see a pipeline that wires the
 * parts wrongly (conditional and unconditional predictions swapped, the guidance sign flipped, the prompt's
 * embedding not reaching the UNet, a sampler that ignores the model). Here {@link SceneAnalyzer} reads each image and
 * {@link ScenePrompt} checks the asked object colour and shape and the background: with the default guidance (CFG 7.5)
 * at the service's default 25 steps, every sampler but two must get colour, shape and background right in at least
 * 80 % of the images and in 90 % over all of them (measured: 22 to 24 of 24 for each); with guidance off (g = 1, the
 * conditional prediction alone) the same prompts come out clearly worse, and with the unconditional prediction alone
 * (g = 0) near chance. Swapping the two predictions turns CFG 7.5 into guidance away from the prompt and fails the
 * first check.
 *
 * <p>What this model cannot do yet, measured (6 seeds per prompt, 2026-12-05) and left out of the assertions:
 * <ul>
 *   <li>the 4th-order multistep samplers {@code pndm} (PLMS) and {@code lms} diverge at CFG 7.5 in 25 steps (the asked
 *   colour in 20/48 and 17/48 images; Euler 48/48) — they pass the numeric goldens, and the demo model's own
 *   scheduler is Euler for this reason;</li>
 *   <li>stars and triangles are drawn recognisably but with soft points, which the analyzer often reads as another
 *   shape (colour and shape right in 0–5 of 6 images per prompt, circles, squares, crosses and rings 6 of 6).</li>
 * </ul>
 */
class DemoModelAdherenceTest {

    /** Prompts of the demo grammar whose shapes the analyzer reads reliably on this model. */
    static final List<String> PROMPTS = List.of(
            "a red circle on a blue background",
            "a white square on a green background",
            "a green cross on a white background",
            "a purple ring on a orange background");
    /** Samplers that diverge on this model at CFG 7.5 (see the class comment). */
    static final List<String> DIVERGING = List.of("pndm", "lms");
    static final int SEEDS = 6;
    static final int STEPS = 25;

    static StableDiffusionPipeline pipe;

    @BeforeAll
    static void load() {
        pipe = StableDiffusionPipeline.load(EmbeddedDemoModel.folder(), ComputeContext.cpu(), PipelineOptions.defaults());
    }

    @AfterAll
    static void close() {
        if (pipe != null) {
            pipe.close();
        }
    }

    static List<String> samplers() {
        return SamplerFactory.names().stream().filter(n -> !DIVERGING.contains(n)).toList();
    }

    /** Shares already measured in this class, by sampler and guidance: the guidance-off test reuses the default run. */
    static final Map<String, Double> MEASURED = new ConcurrentHashMap<>();

    /** Share of images whose asked object colour, object shape and background are all right. */
    static double askedAttributesRight(String sampler, GuidanceSpec guidance) {
        return MEASURED.computeIfAbsent(sampler + " | " + guidance.label(), k -> measure(sampler, guidance));
    }

    private static double measure(String sampler, GuidanceSpec guidance) {
        int right = 0;
        int images = 0;
        for (int p = 0; p < PROMPTS.size(); p++) {
            ScenePrompt prompt = ScenePrompt.parse(PROMPTS.get(p));
            GenerationRequest req = new GenerationRequest(PROMPTS.get(p), "", pipe.nativeSize(), pipe.nativeSize(),
                    STEPS, sampler, SamplerOverrides.NONE, guidance, 7000L + 100L * p, SEEDS);
            GenerationResult res = pipe.generate(req, GenerationListener.NONE);
            for (GeneratedImage gi : res.images()) {
                Map<String, Boolean> score = prompt.score(SceneAnalyzer.read(PngEncoder.decode(gi.png())));
                right += score.get("object0.color") && score.get("object0.shape") && score.get("background") ? 1 : 0;
                images++;
            }
        }
        double share = (double) right / images;
        System.err.printf(Locale.ROOT, "[adherence] %-28s %-40s colour, shape and background right %d/%d = %.3f%n", sampler,
                guidance.label(), right, images, share);
        return share;
    }

    @Test
    void defaultGuidanceDrawsWhatIsAskedWithEverySampler() {
        double sum = 0;
        List<String> names = samplers();
        StringBuilder low = new StringBuilder();
        for (String sampler : names) {
            double share = askedAttributesRight(sampler, GuidanceSpec.DEFAULT);
            sum += share;
            // measured 22..24 of 24 for every sampler here; a single image read differently on another CPU must
            // not fail the build, a sampler that stops following the prompt must
            if (share < 0.8) {
                low.append(' ').append(sampler).append('=').append(share);
            }
        }
        double mean = sum / names.size();
        assertTrue(low.isEmpty(), "samplers below 0.8 of the images right:" + low);
        assertTrue(mean >= 0.9, "colour, shape and background right in " + mean + " of the images over all samplers,"
                + " want >= 0.9");
    }

    @Test
    void withoutGuidanceTheModelFollowsThePromptClearlyLess() {
        // the model's own scheduler, so CFG 7.5's share is the one the per-sampler test measured (not drawn twice)
        assertEquals("EulerDiscreteScheduler", pipe.modelInfo().defaultSampler());
        String sampler = "euler";
        double guided = askedAttributesRight(sampler, GuidanceSpec.DEFAULT);
        double off = askedAttributesRight(sampler, GuidanceSpec.parse("{\"normalizer\":\"none\",\"g\":1}"));
        double unconditional = askedAttributesRight(sampler, GuidanceSpec.parse("{\"normalizer\":\"none\",\"g\":0}"));
        assertTrue(off <= guided - 0.2, "guidance off " + off + " is not clearly below CFG 7.5's " + guided);
        // 8 colours x 6 shapes x 8 backgrounds: chance of all three right is well below 1 %
        assertTrue(unconditional <= 0.1, "the unconditional prediction alone follows the prompt: " + unconditional);
    }
}
