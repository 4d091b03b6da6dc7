package dev.sdcfg.eval;

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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The semantic end-to-end check on the embedded (trained) demo model: the picture must show what the prompt asks.
 * Numeric goldens prove that each part computes what diffusers computes; they cannot see a pipeline that wires the
 * parts wrongly (conditional and unconditional predictions swapped, the guidance sign flipped, the prompt's
 * embedding not reaching the UNet, a sampler that ignores the model). Here {@link SceneAnalyzer} reads each image and
 * {@link ScenePrompt} checks the asked object colour and shape and the background: with the default guidance (CFG 7.5)
 * every sampler must get all three right in at least 90 % of the images (measured with one thread: 30 of 30 for 17 of
 * the 19 samplers, 28 of 30 for dpm2_ancestral and its Karras variant); with guidance off (g = 1, the conditional
 * prediction alone) prompts that leave the size open come out clearly worse (Euler: 14 of 24 against 22 of 24), and
 * with the unconditional prediction alone (g = 0) near chance (0 of 24). Swapping the two predictions turns CFG 7.5
 * into guidance away from the prompt and fails the first check.
 *
 * <p>Two limits of this 1.7 M-parameter model shape the test, both measured (2026-12-05, 6 seeds per prompt):
 * <ul>
 *   <li><b>Steps.</b> Every sampler runs the service's default 25 steps except {@code pndm} (PLMS) and {@code lms},
 *   which run 50. They are 4th-order explicit multistep methods, and this model's guided prediction behaves as a stiff problem (its
 *   world has flat colours and sharp shapes, so the denoiser's output swings quickly with its input, and CFG 7.5
 *   multiplies the swing): at 25 steps they leave their stability region and diverge (colour, shape and background
 *   right in 3 of 24 images each; Euler 22/24), at 50 and 100 steps they do as well as Euler (21–22/24), and at CFG 4
 *   they mostly hold at 25 (18 and 20/24). Training the UNet on (2,760 more steps, to step 7,000) made them worse at
 *   25 steps (0/24), as a sharper denoiser would, and left Euler as it was, so that model was not taken. They pass the numeric goldens; the demo model's own scheduler is
 *   Euler for this reason.</li>
 *   <li><b>Size.</b> The prompts ask for large objects. Small shapes are 2–3 latent cells across at 16×16×4, and the
 *   VAE decodes a small cross, star or triangle as a blob (a small green cross was read as a circle), which would
 *   measure the VAE's resolution rather than the pipeline. Large stars still come out with soft points and are
 *   read right in only 2–3 of 6 images, so no star prompt is asserted; docs/GUIDANCE.md measures every shape, sized
 *   or not.</li>
 * </ul>
 */
class DemoModelAdherenceTest {

    /** Prompts of the demo grammar whose shapes the analyzer reads reliably on this model (see the class comment). */
    static final List<String> PROMPTS = List.of(
            "a large red circle on a blue background",
            "a large white square on a green background",
            "a large green cross on a white background",
            "a large purple ring on a orange background",
            "a large blue triangle on a white background");
    /**
     * The same scenes with the size left to the model, for the guidance contrast: on large objects the conditional
     * prediction alone is already right in 27 of 30 images, and guidance shows where the prompt leaves more open.
     */
    static final List<String> OPEN_PROMPTS = List.of(
            "a red circle on a blue background",
            "a white square on a green background",
            "a green cross on a white background",
            "a purple ring on a orange background");
    static final int SEEDS = 6;
    /** The service's default. */
    static final int STEPS = 25;
    /** Steps for the samplers that are unstable on this model at 25 (see the class comment). */
    static final Map<String, Integer> STEPS_FOR = Map.of("pndm", 50, "lms", 50);
    /** The bar: each sampler, with default guidance, draws what is asked in at least 90 % of the images. */
    static final double MIN_SHARE = 0.9;

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

    /** Share of images whose asked object colour, object shape and background are all right. */
    static double askedAttributesRight(List<String> prompts, String sampler, GuidanceSpec guidance) {
        int right = 0;
        int images = 0;
        for (int p = 0; p < prompts.size(); p++) {
            ScenePrompt prompt = ScenePrompt.parse(prompts.get(p));
            GenerationRequest req = new GenerationRequest(prompts.get(p), "", pipe.nativeSize(), pipe.nativeSize(),
                    sampler == null ? STEPS : STEPS_FOR.getOrDefault(sampler, STEPS), sampler, SamplerOverrides.NONE, guidance, 7000L + 100L * p, SEEDS);
            GenerationResult res = pipe.generate(req, GenerationListener.NONE);
            for (GeneratedImage gi : res.images()) {
                Map<String, Boolean> score = prompt.score(SceneAnalyzer.read(PngEncoder.decode(gi.png())));
                right += score.get("object0.color") && score.get("object0.shape") && score.get("background") ? 1 : 0;
                images++;
            }
        }
        double share = (double) right / images;
        System.err.printf(Locale.ROOT, "[adherence] %-22s %-14s %-24s colour, shape and background right %d/%d = %.3f%n",
                sampler == null ? "(model's own)" : sampler, prompts == PROMPTS ? "large objects" : "size left open", guidance.label(), right, images, share);
        return share;
    }

    @Test
    void defaultGuidanceDrawsWhatIsAskedWithEverySampler() {
        StringBuilder low = new StringBuilder();
        for (String sampler : SamplerFactory.names()) {
            double share = askedAttributesRight(PROMPTS, sampler, GuidanceSpec.DEFAULT);
            if (share < MIN_SHARE) {
                low.append(' ').append(sampler).append('=').append(share);
            }
        }
        assertTrue(low.isEmpty(), "samplers below " + MIN_SHARE + " of the images right:" + low);
    }

    @Test
    void withoutGuidanceTheModelFollowsThePromptClearlyLess() {
        String sampler = null; // the model's own scheduler (Euler)
        double guided = askedAttributesRight(OPEN_PROMPTS, sampler, GuidanceSpec.DEFAULT);
        double off = askedAttributesRight(OPEN_PROMPTS, sampler, GuidanceSpec.parse("{\"normalizer\":\"none\",\"g\":1}"));
        double unconditional = askedAttributesRight(OPEN_PROMPTS, sampler,
                GuidanceSpec.parse("{\"normalizer\":\"none\",\"g\":0}"));
        assertTrue(off <= guided - 0.2, "guidance off " + off + " is not clearly below CFG 7.5's " + guided);
        // 8 colours x 6 shapes x 8 backgrounds: chance of all three right is well below 1 %
        assertTrue(unconditional <= 0.1, "the unconditional prediction alone follows the prompt: " + unconditional);
    }
}
