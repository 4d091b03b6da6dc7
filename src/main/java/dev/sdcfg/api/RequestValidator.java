package dev.sdcfg.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.sdcfg.guidance.GuidanceSpec;
import dev.sdcfg.jobs.JobService;
import dev.sdcfg.jobs.JobTask;
import dev.sdcfg.jobs.ServiceConfig;
import dev.sdcfg.pipeline.GenerationRequest;
import dev.sdcfg.pipeline.prompt.PromptSyntax;
import dev.sdcfg.pipeline.ImageGenerator;
import dev.sdcfg.pipeline.InvalidRequestException;
import dev.sdcfg.pipeline.SamplerOverrides;
import dev.sdcfg.pipeline.SizeConditions;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Bounds every field of a request (limits from {@code sd.limits.*}), fills in defaults and the seed, parses the
 * free-form fields into the engine's typed values ({@link GuidanceSpec}, {@link SamplerOverrides}) and asks the
 * engine ({@link ImageGenerator#validate}) whether it can run the result. Collects all field errors of a request
 * into one 400 problem; a guidance spec the parser rejects, and engine rejections, are 422 naming the field.
 * Nothing here touches the queue.
 */
@ApplicationScoped
public class RequestValidator {

    /** Largest seed: 2^53 − 1, so that JavaScript clients see it exactly. */
    public static final long MAX_SEED = (1L << 53) - 1;
    private static final Pattern SIZE = Pattern.compile("([0-9]{1,5})x([0-9]{1,5})");
    private static final Pattern SAMPLER = Pattern.compile("[A-Za-z0-9_+.\\-]{1,64}");
    private static final int MAX_LABEL = 200;
    private static final int MAX_META = 200;
    private final SecureRandom random = new SecureRandom();

    @Inject
    ServiceConfig config;

    @Inject
    dev.sdcfg.jobs.ModelCatalog models;

    @Inject
    JobService jobs;

    @Inject
    ObjectMapper json;

    /** A checked generation request and how to answer it. */
    public record Generation(GenerationRequest request, String responseFormat) {
    }

    /** A checked experiment: one task per guidance spec. */
    public record Experiment(List<JobTask> tasks, int columns) {
    }

    public Generation generation(ImageGenerationRequest b) {
        if (b == null) {
            throw ProblemException.invalid("", "a JSON object body is required");
        }
        List<FieldError> errors = new ArrayList<>();
        String prompt = prompt(b.prompt(), errors);
        String negative = negative(b.negativePrompt(), errors);
        int n = b.n() == null ? 1 : b.n();
        if (n < 1 || n > config.limits().maxN()) {
            errors.add(new FieldError("n", "must be between 1 and " + config.limits().maxN()));
        }
        int[] wh = size(b.size(), b.width(), b.height(), errors);
        String format = b.responseFormat() == null ? "b64_json" : b.responseFormat();
        if (!format.equals("b64_json") && !format.equals("url")) {
            errors.add(new FieldError("response_format", "must be b64_json or url"));
        }
        long seed = seed(b.seed(), errors);
        int steps = steps(b.steps(), errors);
        String sampler = sampler(b.sampler(), errors);
        SamplerOverrides samplerOptions = samplerOptions(b.samplerOptions(), errors);
        JsonNode guidance = guidanceNode(b.guidance(), GuidanceSpec.FIELD, errors);
        meta("model", b.model(), errors);
        meta("user", b.user(), errors);
        PreviewEvery.check(b.previewEvery(), config.limits().maxSteps(), errors);
        byte[] initImage = InitImageField.bytes(InitImageField.FIELD, b.initImage(), errors);
        byte[] mask = InitImageField.bytes(InitImageField.MASK, b.mask(), errors);
        InitImageField.checkCompanions(b.initImage(), b.strength(), b.mask(), b.maskBlur(), b.inpaintFullRes(),
                b.inpaintFullResPadding(), b.maskedContent(), errors);
        SizeConditions sizeConditions = SdxlSizeFields.parse(b, wh, errors);
        PromptSyntax syntax = promptSyntax(b.promptSyntax(), errors);
        dev.sdcfg.pipeline.HiresFix hires = hires(b.hires(), b.initImage() != null, errors);
        if (!errors.isEmpty()) {
            throw ProblemException.invalid(errors);
        }
        dev.sdcfg.pipeline.Img2ImgInput img2img = null;
        if (initImage != null) {
            img2img = InitImageField.decode(initImage, mask, b.strength(), b.maskBlur(), b.inpaintFullRes(),
                    b.inpaintFullResPadding(), b.maskedContent(), config.limits().maxPixels());
            wh = img2imgSize(img2img.image(), b, wh);
        }
        String model = modelOf(b.model());
        List<dev.sdcfg.pipeline.LoraWeight> loras = List.of();
        if (models != null && models.lorasDir().isPresent()) {
            LoraTags.Parsed tags = LoraTags.parse(prompt);
            prompt = tags.prompt();
            loras = loras(b.loras(), tags);
        } else if (b.loras() != null && !b.loras().isEmpty()) {
            throw ProblemException.unprocessable("loras", "no LoRA folder is configured (sd.loras.dir)");
        }
        return new Generation(new GenerationRequest(prompt, negative, wh[0], wh[1], steps, sampler, samplerOptions,
                guidanceSpec(guidance, GuidanceSpec.FIELD), seed, n, img2img, sizeConditions, syntax, model, loras,
                hires), format);
    }

    public Experiment experiment(ExperimentRequest b) {
        if (b == null) {
            throw ProblemException.invalid("", "a JSON object body is required");
        }
        List<FieldError> errors = new ArrayList<>();
        String prompt = prompt(b.prompt(), errors);
        String negative = negative(b.negativePrompt(), errors);
        int[] wh = size(b.size(), b.width(), b.height(), errors);
        long seed = seed(b.seed(), errors);
        int steps = steps(b.steps(), errors);
        String sampler = sampler(b.sampler(), errors);
        SamplerOverrides samplerOptions = samplerOptions(b.samplerOptions(), errors);
        List<JsonNode> specs = b.guidance();
        int max = config.limits().maxExperimentSpecs();
        List<JsonNode> guidance = new ArrayList<>();
        if (specs == null) {
            errors.add(new FieldError("guidance", "required: an array of 1.." + max + " guidance specs"));
        } else if (specs.isEmpty() || specs.size() > max) {
            errors.add(new FieldError("guidance", "must hold 1.." + max + " guidance specs, got " + specs.size()));
        } else {
            for (int i = 0; i < specs.size(); i++) {
                JsonNode s = specs.get(i);
                if (s == null || s.isNull()) {
                    errors.add(new FieldError("guidance[" + i + "]", "must be a number or an object"));
                    guidance.add(null);
                } else {
                    guidance.add(guidanceNode(s, specField(i), errors));
                }
            }
        }
        List<String> labels = b.labels();
        if (labels != null) {
            if (specs != null && labels.size() != specs.size()) {
                errors.add(new FieldError("labels", "needs one label per guidance spec (" + specs.size() + "), got "
                        + labels.size()));
            }
            for (int i = 0; i < labels.size(); i++) {
                String l = labels.get(i);
                if (l == null || l.isBlank()) {
                    errors.add(new FieldError("labels[" + i + "]", "must be a non-blank string"));
                } else if (l.length() > MAX_LABEL) {
                    errors.add(new FieldError("labels[" + i + "]", "at most " + MAX_LABEL + " characters"));
                }
            }
        }
        PromptSyntax syntax = promptSyntax(b.promptSyntax(), errors);
        int count = specs == null ? 0 : specs.size();
        int columns;
        if (b.columns() != null) {
            columns = b.columns();
            if (columns < 1 || columns > max) {
                errors.add(new FieldError("columns", "must be between 1 and " + max));
            }
        } else {
            columns = count <= 4 ? Math.max(1, count) : (int) Math.ceil(Math.sqrt(count));
        }
        if (!errors.isEmpty()) {
            throw ProblemException.invalid(errors);
        }
        List<JobTask> tasks = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            GuidanceSpec spec = guidanceSpec(guidance.get(i), specField(i));
            String label = labels != null ? labels.get(i).strip() : spec.label();
            tasks.add(new JobTask(label, new GenerationRequest(prompt, negative, wh[0], wh[1], steps, sampler,
                    samplerOptions, spec, seed, 1, null, null, syntax,
                    modelsFolder() ? models.defaultModel() : null, null)));
        }
        return new Experiment(tasks, columns);
    }

    /**
     * The {@code hires} object with A1111's defaults filled in ({@link dev.sdcfg.pipeline.HiresFix#fromRequest}), or
     * null when absent; each bad member is an error naming {@code hires.<member>}.
     */
    private dev.sdcfg.pipeline.HiresFix hires(ImageGenerationRequest.HiresRequest h, boolean withInitImage,
                                             List<FieldError> errors) {
        if (h == null) {
            return null;
        }
        if (withInitImage) {
            errors.add(new FieldError("hires", "the second pass follows text to image: not with init_image"));
        }
        return dev.sdcfg.pipeline.HiresFix.fromRequest(h.scale(), h.steps(), h.strength(), h.upscaler(),
                config.limits().maxSteps(), (member, rule) -> errors.add(new FieldError("hires." + member, rule)));
    }

    /** {@code prompt_syntax}: absent means a1111. */
    private static PromptSyntax promptSyntax(String v, List<FieldError> errors) {
        if (v == null) {
            return PromptSyntax.A1111;
        }
        PromptSyntax s = PromptSyntax.of(v);
        if (s == null) {
            errors.add(new FieldError("prompt_syntax", "must be a1111 or plain"));
        }
        return s;
    }

    /**
     * The rule of an integer field of the request bodies, e.g. {@code "an integer between 1 and 150"} for steps, for
     * messages about values that do not even parse as the field's type (fractions, numbers beyond 64 bits).
     */
    public Optional<String> integerRule(String field) {
        ServiceConfig.Limits l = config.limits();
        return Optional.ofNullable(switch (field == null ? "" : field) {
            case "n" -> "an integer between 1 and " + l.maxN();
            case "steps" -> "an integer between 1 and " + l.maxSteps();
            case "seed" -> "an integer between 0 and " + MAX_SEED + " (2^53-1)";
            case "width", "height" -> "an integer, " + dimRule();
            case "columns" -> "an integer between 1 and " + l.maxExperimentSpecs();
            case PreviewEvery.FIELD -> PreviewEvery.rule(l.maxSteps());
            default -> null;
        });
    }

    /**
     * The size of an image-to-image request: the init image's own when the request gives none (its sides must then
     * be valid sizes, else 422 on init_image); a size the request gives must equal it (the engine says so, 422).
     */
    private int[] img2imgSize(dev.sdcfg.pipeline.InitImage image, ImageGenerationRequest b, int[] requested) {
        if (b.size() != null || b.width() != null || b.height() != null) {
            return requested;
        }
        if (!dimOk(image.width()) || !dimOk(image.height())) {
            throw ProblemException.unprocessable(InitImageField.FIELD, "init_image is " + image.width() + "x"
                    + image.height() + "; the output has its size, so each side must be " + dimRule()
                    + " (resize or crop it)");
        }
        return new int[] {image.width(), image.height()};
    }

    /** The engine's own check; its rejection becomes 422 naming the field (prefixed for experiment specs). */
    public void engineCheck(ImageGenerator generator, GenerationRequest request, int specIndex) {
        try {
            generator.validate(request);
        } catch (InvalidRequestException e) {
            String field = e.field() == null ? "" : e.field();
            if (specIndex >= 0 && field.startsWith(GuidanceSpec.FIELD)) {
                field = specField(specIndex) + field.substring(GuidanceSpec.FIELD.length());
            }
            throw ProblemException.unprocessable(field, e.getMessage());
        }
    }

    // ------------------------------------------------------------------------------------------------

    private String prompt(String prompt, List<FieldError> errors) {
        if (prompt == null || prompt.isBlank()) {
            errors.add(new FieldError("prompt", "required: a non-blank string"));
            return null;
        }
        if (prompt.length() > config.limits().maxPromptChars()) {
            errors.add(new FieldError("prompt", "at most " + config.limits().maxPromptChars() + " characters, got "
                    + prompt.length()));
        }
        if (prompt.indexOf('\0') >= 0) {
            errors.add(new FieldError("prompt", "must not contain NUL characters"));
        }
        return prompt;
    }

    private String negative(String negative, List<FieldError> errors) {
        if (negative == null) {
            return "";
        }
        if (negative.length() > config.limits().maxPromptChars()) {
            errors.add(new FieldError("negative_prompt", "at most " + config.limits().maxPromptChars()
                    + " characters, got " + negative.length()));
        }
        if (negative.indexOf('\0') >= 0) {
            errors.add(new FieldError("negative_prompt", "must not contain NUL characters"));
        }
        return negative;
    }

    private int steps(Integer steps, List<FieldError> errors) {
        int s = steps == null ? config.defaults().steps() : steps;
        if (s < 1 || s > config.limits().maxSteps()) {
            errors.add(new FieldError("steps", "must be between 1 and " + config.limits().maxSteps()));
        }
        return s;
    }

    private long seed(Long seed, List<FieldError> errors) {
        if (seed == null) {
            return random.nextLong() & MAX_SEED;
        }
        if (seed < 0 || seed > MAX_SEED) {
            errors.add(new FieldError("seed", "must be between 0 and " + MAX_SEED + " (2^53-1)"));
        }
        return seed;
    }

    private String sampler(String sampler, List<FieldError> errors) {
        if (sampler == null) {
            return null;
        }
        if (!SAMPLER.matcher(sampler).matches()) {
            errors.add(new FieldError("sampler", "must be a sampler name from GET /v1/samplers (letters, digits, _ + . -; "
                    + "at most 64)"));
        }
        return sampler;
    }

    /** The experiment's field of spec {@code index}: {@code guidance[index]}. */
    private static String specField(int index) {
        return GuidanceSpec.FIELD + "[" + index + "]";
    }

    private SamplerOverrides samplerOptions(JsonNode options, List<FieldError> errors) {
        if (options == null || options.isNull()) {
            return SamplerOverrides.NONE;
        }
        if (!options.isObject()) {
            errors.add(new FieldError(SamplerOverrides.FIELD, "must be a JSON object"));
            return null;
        }
        if (!finite(options, SamplerOverrides.FIELD, errors) || !bounded(options, SamplerOverrides.FIELD, errors)) {
            return null;
        }
        return SamplerOverrides.of(JsonTrees.toGson(options).getAsJsonObject());
    }

    /** The guidance field when its shape and size are acceptable (null when absent or with errors added). */
    private JsonNode guidanceNode(JsonNode g, String field, List<FieldError> errors) {
        if (g == null || g.isNull()) {
            return null;
        }
        if (!g.isNumber() && !g.isObject()) {
            errors.add(new FieldError(field, "must be a number, an object or {\"preset\": name}"));
            return null;
        }
        if (!finite(g, field, errors) || !bounded(g, field, errors)) {
            return null;
        }
        return g;
    }

    /**
     * The guidance spec of a bounded field (null: the default); what the spec parser rejects is a 422 naming the
     * field (as the engine's own rejections are).
     */
    private static GuidanceSpec guidanceSpec(JsonNode g, String field) {
        if (g == null) {
            return GuidanceSpec.DEFAULT;
        }
        try {
            return GuidanceSpec.parse(JsonTrees.toGson(g), field);
        } catch (InvalidRequestException e) {
            throw ProblemException.unprocessable(e.field(), e.getMessage());
        }
    }

    /**
     * False (with an error naming the path) when {@code node} holds a number that a double cannot represent, such as
     * 1e400: Jackson reads it as infinity, which JSON cannot carry on to the engine.
     */
    private static boolean finite(JsonNode node, String path, List<FieldError> errors) {
        if (node.isNumber()) {
            if (!Double.isFinite(node.asDouble())) {
                errors.add(new FieldError(path, "must be a finite number (a double's range is about ±1.8e308)"));
                return false;
            }
            return true;
        }
        boolean ok = true;
        if (node.isObject()) {
            for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
                Map.Entry<String, JsonNode> e = it.next();
                ok &= finite(e.getValue(), path + "." + e.getKey(), errors);
            }
        } else if (node.isArray()) {
            for (int i = 0; i < node.size(); i++) {
                ok &= finite(node.get(i), path + "[" + i + "]", errors);
            }
        }
        return ok;
    }

    /** False (with an error) when the JSON text of {@code node} is longer than {@code sd.limits.max-spec-chars}. */
    private boolean bounded(JsonNode node, String field, List<FieldError> errors) {
        String text;
        try {
            text = json.writeValueAsString(node);
        } catch (JsonProcessingException e) {
            errors.add(new FieldError(field, "cannot be serialized"));
            return false;
        }
        if (text.length() > config.limits().maxSpecChars()) {
            errors.add(new FieldError(field, "at most " + config.limits().maxSpecChars() + " characters of JSON"));
            return false;
        }
        return true;
    }

    /**
     * With a models folder ({@code sd.models.dir}): the model the job runs on, the request's own or the default; a
     * name the folder does not list is a 422 (like an unknown sampler). Without one, {@code model} is ignored (null),
     * as before.
     */
    private String modelOf(String requested) {
        if (!modelsFolder()) {
            return null;
        }
        if (requested == null || requested.isBlank()) {
            return models.defaultModel();
        }
        if (models.library().orElseThrow().find(requested).isEmpty()) {
            throw ProblemException.unprocessable("model", "unknown model '" + requested
                    + "': GET /v1/models lists the models");
        }
        return requested;
    }

    /** Most LoRAs one request may merge. */
    static final int MAX_LORAS = 8;

    /**
     * The request's {@code loras} plus its prompt's {@code <lora:…>} tags, checked: names listed in sd.loras.dir (else
     * 422), weights finite within -10..10 (else 400).
     */
    private List<dev.sdcfg.pipeline.LoraWeight> loras(List<ImageGenerationRequest.LoraRequest> body, LoraTags.Parsed tags) {
        List<FieldError> errors = new ArrayList<>();
        List<dev.sdcfg.pipeline.LoraWeight> all = new ArrayList<>();
        if (body != null) {
            for (int i = 0; i < body.size(); i++) {
                ImageGenerationRequest.LoraRequest r = body.get(i);
                if (r == null || r.name() == null || r.name().isBlank()) {
                    errors.add(new FieldError("loras[" + i + "].name", "required: a LoRA name from GET /v1/loras"));
                    continue;
                }
                double w = r.weight() == null ? 1.0 : r.weight();
                if (!Double.isFinite(w) || Math.abs(w) > 10) {
                    errors.add(new FieldError("loras[" + i + "].weight", "must be a number within -10..10"));
                }
                all.add(new dev.sdcfg.pipeline.LoraWeight(r.name(), w));
            }
        }
        for (String bad : tags.badWeights()) {
            errors.add(new FieldError("prompt", "the weight of " + bad + " is not a number"));
        }
        for (dev.sdcfg.pipeline.LoraWeight t : tags.loras()) {
            if (!Double.isFinite(t.weight()) || Math.abs(t.weight()) > 10) {
                errors.add(new FieldError("prompt", "the weight of <lora:" + t.name() + "> must be within -10..10"));
            }
            all.add(t);
        }
        if (all.size() > MAX_LORAS) {
            errors.add(new FieldError("loras", "at most " + MAX_LORAS + " LoRAs, got " + all.size()));
        }
        if (!errors.isEmpty()) {
            throw ProblemException.invalid(errors);
        }
        for (dev.sdcfg.pipeline.LoraWeight l : all) {
            if (models.loraPath(l.name()).isEmpty()) {
                throw ProblemException.unprocessable("loras", "unknown LoRA '" + l.name()
                        + "': GET /v1/loras lists the LoRAs");
            }
        }
        return dev.sdcfg.pipeline.LoraWeight.canonical(all);
    }

    /** True with sd.models.dir (a validator built outside CDI, in unit tests, has no catalog: no models folder). */
    private boolean modelsFolder() {
        return models != null && models.enabled();
    }

    private void meta(String field, String value, List<FieldError> errors) {
        if (value != null && value.length() > MAX_META) {
            errors.add(new FieldError(field, "at most " + MAX_META + " characters"));
        }
    }

    private int[] size(String size, Integer width, Integer height, List<FieldError> errors) {
        int[] def = defaultSize();
        int w = def[0];
        int h = def[1];
        if (size != null) {
            Matcher m = SIZE.matcher(size);
            if (!m.matches()) {
                errors.add(new FieldError("size", "must be WxH, e.g. 512x512"));
                return new int[] {w, h};
            }
            w = Integer.parseInt(m.group(1));
            h = Integer.parseInt(m.group(2));
            if (width != null && width != w) {
                errors.add(new FieldError("width", "disagrees with size " + size));
            }
            if (height != null && height != h) {
                errors.add(new FieldError("height", "disagrees with size " + size));
            }
            if (!dimOk(w) || !dimOk(h)) {
                errors.add(new FieldError("size", "width and height must each be " + dimRule() + ", got " + size));
                return new int[] {w, h};
            }
        } else {
            boolean ok = true;
            if (width != null) {
                w = width;
                if (!dimOk(w)) {
                    errors.add(new FieldError("width", "must be " + dimRule() + ", got " + w));
                    ok = false;
                }
            }
            if (height != null) {
                h = height;
                if (!dimOk(h)) {
                    errors.add(new FieldError("height", "must be " + dimRule() + ", got " + h));
                    ok = false;
                }
            }
            if (!ok) {
                return new int[] {w, h};
            }
        }
        if ((long) w * h > config.limits().maxPixels()) {
            errors.add(new FieldError(size != null ? "size" : "width", w + "x" + h + " exceeds "
                    + config.limits().maxPixels() + " pixels (sd.limits.max-pixels)"));
        }
        return new int[] {w, h};
    }

    private boolean dimOk(int v) {
        return v >= config.limits().minSize() && v <= config.limits().maxSize() && v % 8 == 0;
    }

    private String dimRule() {
        return "a multiple of 8 within " + config.limits().minSize() + ".." + config.limits().maxSize();
    }

    private int[] defaultSize() {
        if (config.defaults().size().isPresent()) {
            Matcher m = SIZE.matcher(config.defaults().size().get().trim());
            if (m.matches()) {
                return new int[] {Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))};
            }
        }
        int nativeSize = jobs.generator().map(g -> g.modelInfo().nativeSize()).orElse(0);
        if (nativeSize > 0) {
            int v = Math.max(config.limits().minSize(), Math.min(config.limits().maxSize(), nativeSize / 8 * 8));
            return new int[] {v, v};
        }
        return new int[] {512, 512};
    }
}
