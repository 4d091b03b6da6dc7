package dev.sdcfg.pipeline;

import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import dev.sdcfg.guidance.GuidanceSpec;
import dev.sdcfg.guidance.Normalizer;
import dev.sdcfg.guidance.Schedule;
import dev.sdcfg.pipeline.image.Infotext;
import dev.sdcfg.pipeline.prompt.PromptSyntax;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A generation as A1111 infotext ({@link Infotext}) and back: the PNG {@code parameters} chunk this service writes,
 * and the request body that {@code POST /v1/png-info} rebuilds from it.
 *
 * <p>Written keys: A1111's {@code Steps}, {@code Sampler} (A1111's display name where one of our samplers has an
 * A1111 twin, e.g. {@code euler_ancestral} → {@code Euler a}; our name otherwise; the model's scheduler class when the
 * request named none), {@code CFG scale} (the guidance scale g, at step 0 when it is scheduled), {@code Seed},
 * {@code Size} (the first pass's, as A1111 writes it), {@code Model hash}, {@code Model}, {@code Clip skip} (A1111
 * counts the last layer as 1: our clip_skip k is k + 1; left out for 0, as A1111 leaves out 1), and with a second
 * pass A1111's {@code Denoising strength}, {@code Hires upscale}, {@code Hires steps} (left out for 0, as A1111
 * does) and {@code Hires upscaler} ({@code Latent} or {@code Lanczos}); then this service's: {@code Guidance} (the canonical
 * guidance JSON, unless it is plain CFG with a constant g, which CFG scale says in full), {@code Sampler options},
 * {@code Prompt syntax} (only {@code plain}; A1111's syntax is the default). No {@code Version}: A1111 reads it as
 * its own version to switch on compatibility options.
 */
public final class GenerationInfotext {

    /** Our sampler names with an A1111 twin → A1111's display name. */
    private static final Map<String, String> A1111_SAMPLERS = new LinkedHashMap<>();

    static {
        A1111_SAMPLERS.put("euler_ancestral", "Euler a");
        A1111_SAMPLERS.put("euler", "Euler");
        A1111_SAMPLERS.put("lms", "LMS");
        A1111_SAMPLERS.put("heun", "Heun");
        A1111_SAMPLERS.put("dpm2", "DPM2");
        A1111_SAMPLERS.put("dpm2_karras", "DPM2 Karras");
        A1111_SAMPLERS.put("dpm2_ancestral", "DPM2 a");
        A1111_SAMPLERS.put("dpm2_ancestral_karras", "DPM2 a Karras");
        A1111_SAMPLERS.put("dpmpp_2m", "DPM++ 2M");
        A1111_SAMPLERS.put("dpmpp_2m_karras", "DPM++ 2M Karras");
        A1111_SAMPLERS.put("dpmpp_2m_sde", "DPM++ 2M SDE");
        A1111_SAMPLERS.put("dpmpp_2m_sde_karras", "DPM++ 2M SDE Karras");
        A1111_SAMPLERS.put("ddim", "DDIM");
        A1111_SAMPLERS.put("pndm", "PLMS");
        A1111_SAMPLERS.put("unipc", "UniPC");
    }

    /**
     * A request rebuilt from infotext.
     *
     * @param body     the JSON body of {@code POST /v1/images/generations} (n = 1, the image's own seed)
     * @param warnings what could not be carried over (an unknown sampler name, a value that is not a number)
     */
    public record Request(JsonObject body, List<String> warnings) {
    }

    private GenerationInfotext() {
    }

    /**
     * The {@code parameters} text of one image.
     *
     * @param modelHash        null to leave the key out
     * @param defaultSampler   the model's scheduler class (written when the request names no sampler)
     * @param clipSkip         the pipeline's clip_skip (diffusers' count)
     */
    public static String write(GenerationRequest r, long seed, String model, String modelHash, String defaultSampler,
                               int clipSkip) {
        Map<String, String> p = new LinkedHashMap<>();
        p.put("Steps", Integer.toString(r.steps()));
        p.put("Sampler", r.sampler() == null ? defaultSampler : A1111_SAMPLERS.getOrDefault(r.sampler(), r.sampler()));
        Schedule g = r.guidance().params().get("g");
        p.put("CFG scale", g == null ? null : number(g.value(0, r.steps())));
        p.put("Seed", Long.toString(seed));
        p.put("Size", r.width() + "x" + r.height());
        p.put("Model hash", modelHash);
        p.put("Model", model);
        p.put("Clip skip", clipSkip > 0 ? Integer.toString(clipSkip + 1) : null);
        HiresFix h = r.hires();
        if (h != null) {
            p.put("Denoising strength", number(h.strength()));
            p.put("Hires upscale", number(h.scale()));
            p.put("Hires steps", h.steps() == 0 ? null : Integer.toString(h.steps()));
            p.put("Hires upscaler", h.upscaler().a1111Name());
        }
        p.put("Guidance", plainCfg(r.guidance()) ? null : r.guidance().canonicalJson());
        p.put("Sampler options", r.samplerOptions().isEmpty() ? null : r.samplerOptions().canonicalJson());
        p.put("Prompt syntax", r.promptSyntax() == PromptSyntax.A1111 ? null : r.promptSyntax().value());
        return Infotext.format(r.prompt(), r.negativePrompt(), p);
    }

    /** Plain CFG with a constant scale over all steps: CFG scale alone says it. */
    private static boolean plainCfg(GuidanceSpec s) {
        Schedule g = s.params().get("g");
        return s.normalizer() == Normalizer.NONE && s.interval().isAll() && s.params().size() == 1 && g != null
                && g.isConstant() && s.preset() == null;
    }

    /** A double as the shortest text that reads back to it (Gson's form: 7.5, 7.0, 1.0E-5). */
    private static String number(double v) {
        return new JsonPrimitive(v).toString();
    }

    /**
     * The request body that regenerates the image an infotext describes. {@code defaultSampler} (may be null) is the
     * loaded model's scheduler class: a Sampler equal to it means "the model's own" and is left out.
     */
    public static Request request(Infotext.Parsed t, String defaultSampler) {
        Map<String, String> p = t.params();
        List<String> warnings = new ArrayList<>();
        JsonObject b = new JsonObject();
        b.addProperty("prompt", t.prompt());
        if (!t.negativePrompt().isEmpty()) {
            b.addProperty("negative_prompt", t.negativePrompt());
        }
        integer(p, "Size-1", "width", b, warnings);
        integer(p, "Size-2", "height", b, warnings);
        integer(p, "Steps", "steps", b, warnings);
        integer(p, "Seed", "seed", b, warnings);
        String sampler = p.get("Sampler");
        if (sampler != null && !sampler.equals(defaultSampler)) {
            String ours = ourSampler(sampler);
            if (ours != null) {
                b.addProperty("sampler", ours);
            } else {
                warnings.add("Sampler '" + sampler + "' has no counterpart here: the model's own sampler is used");
            }
        }
        if (p.containsKey("Sampler options")) {
            json(p.get("Sampler options"), "Sampler options", "sampler_options", b, warnings);
        }
        if (p.containsKey("Guidance")) {
            json(p.get("Guidance"), "Guidance", "guidance", b, warnings);
        } else if (p.containsKey("CFG scale")) {
            try {
                b.addProperty("guidance", Double.parseDouble(p.get("CFG scale")));
            } catch (NumberFormatException e) {
                warnings.add("CFG scale '" + p.get("CFG scale") + "' is not a number");
            }
        }
        if (p.containsKey("Hires upscale")) {
            hires(p, b, warnings);
        }
        String syntax = p.get("Prompt syntax");
        if (syntax != null) {
            b.addProperty("prompt_syntax", syntax);
        }
        b.addProperty("n", 1);
        return new Request(b, warnings);
    }

    /**
     * A1111's display name → ours; one of our names, "default" or a diffusers scheduler class name (which a request
     * may name, and which this service writes as it was given) → itself; null otherwise (another A1111 sampler).
     */
    static String ourSampler(String name) {
        for (Map.Entry<String, String> e : A1111_SAMPLERS.entrySet()) {
            if (e.getValue().equals(name)) {
                return e.getKey();
            }
        }
        boolean ours = name.equalsIgnoreCase("default") || name.endsWith("Scheduler")
                || dev.sdcfg.sampler.SamplerFactory.describe().stream().anyMatch(s -> s.name().equals(name));
        return ours ? name : null;
    }

    /**
     * A1111's second-pass keys → {@code hires}: Hires upscale (scale), Hires steps (absent: 0), Denoising strength
     * (absent: A1111's 0.75), Hires upscaler (absent: A1111's default, Latent; one without a counterpart here is
     * dropped with a warning, as the whole second pass then is).
     */
    private static void hires(Map<String, String> p, JsonObject b, List<String> warnings) {
        String name = p.getOrDefault("Hires upscaler", "Latent");
        HiresFix.Upscaler upscaler = HiresFix.Upscaler.of(name);
        if (upscaler == null) {
            warnings.add("Hires upscaler '" + name + "' has no counterpart here (latent or lanczos): the second pass"
                    + " is left out");
            return;
        }
        JsonObject h = new JsonObject();
        try {
            h.addProperty("scale", Double.parseDouble(p.get("Hires upscale").strip()));
            if (p.containsKey("Hires steps")) {
                h.addProperty("steps", Long.parseLong(p.get("Hires steps").strip()));
            }
            if (p.containsKey("Denoising strength")) {
                h.addProperty("strength", Double.parseDouble(p.get("Denoising strength").strip()));
            }
        } catch (NumberFormatException e) {
            warnings.add("the Hires keys are not numbers (" + e.getMessage() + "): the second pass is left out");
            return;
        }
        h.addProperty("upscaler", upscaler.value());
        b.add("hires", h);
    }

    private static void integer(Map<String, String> p, String key, String field, JsonObject b, List<String> warnings) {
        String v = p.get(key);
        if (v == null) {
            return;
        }
        try {
            b.addProperty(field, Long.parseLong(v.strip()));
        } catch (NumberFormatException e) {
            warnings.add(key + " '" + v + "' is not an integer");
        }
    }

    private static void json(String v, String key, String field, JsonObject b, List<String> warnings) {
        try {
            JsonElement e = JsonParser.parseString(v);
            b.add(field, e);
        } catch (RuntimeException e) {
            warnings.add(key + " is not JSON: " + v);
        }
    }
}
