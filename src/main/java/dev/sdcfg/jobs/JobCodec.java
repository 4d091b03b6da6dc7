package dev.sdcfg.jobs;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.sdcfg.guidance.GuidanceSpec;
import dev.sdcfg.pipeline.GenerationRequest;
import dev.sdcfg.pipeline.SamplerOverrides;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one place where a job's request and results become text for a shared store ({@link RedisJobQueue}), and
 * back. Field names are explicit (not derived from the records) so that a stored job written by one version can
 * be read by the next; when {@link GenerationRequest} changes, only this class changes.
 */
final class JobCodec {

    private static final ObjectMapper JSON = new ObjectMapper();

    private JobCodec() {
    }

    /** What a finished job stores besides its PNGs. */
    record Result(List<Job.ImageInfo> images, List<String> warnings, Map<String, Double> timings, boolean hasGrid) {
    }

    static String tasks(List<JobTask> tasks) {
        ArrayNode arr = JSON.createArrayNode();
        for (JobTask t : tasks) {
            GenerationRequest r = t.request();
            ObjectNode o = arr.addObject();
            o.put("label", t.label());
            o.put("prompt", r.prompt());
            o.put("negative_prompt", r.negativePrompt());
            o.put("width", r.width());
            o.put("height", r.height());
            o.put("steps", r.steps());
            o.put("sampler", r.sampler());
            // both in their canonical text, which parse() reads back to an equal value
            o.put("sampler_options", r.samplerOptions().canonicalJson());
            o.put("guidance", r.guidance().canonicalJson());
            o.put("seed", r.seed());
            o.put("n", r.n());
            o.put("prompt_syntax", r.promptSyntax().value());
            if (t.previewEvery() > 0) {
                o.put("preview_every", t.previewEvery());
            }
            if (r.img2img() != null) { // the decoded pixels, losslessly as PNG: what the worker decodes is exact
                o.put("init_image", png(r.img2img().image()));
                o.put("strength", r.img2img().strength());
                if (r.img2img().mask() != null) {
                    o.put("mask", png(r.img2img().mask()));
                    o.put("mask_blur", r.img2img().maskBlur());
                    if (r.img2img().fullRes()) {
                        o.put("inpaint_full_res_padding", r.img2img().fullResPadding());
                    }
                    o.put("masked_content", r.img2img().maskedContent().value());
                }
            }
            if (r.hires() != null) {
                o.putObject("hires").put("scale", r.hires().scale()).put("steps", r.hires().steps())
                        .put("strength", r.hires().strength()).put("upscaler", r.hires().upscaler().value());
            }
            if (r.sizeConditions() != null) { // SDXL's six time ids, in diffusers' order
                ArrayNode ids = o.putArray("size_conditions");
                for (int v : r.sizeConditions().timeIds()) {
                    ids.add(v);
                }
            }
            if (r.model() != null) {
                o.put("model", r.model());
            }
            if (!r.loras().isEmpty()) {
                ArrayNode loras = o.putArray("loras");
                for (dev.sdcfg.pipeline.LoraWeight l : r.loras()) {
                    loras.addObject().put("name", l.name()).put("weight", l.weight());
                }
            }
        }
        return write(arr);
    }

    static List<JobTask> tasks(String text) {
        List<JobTask> tasks = new ArrayList<>();
        for (JsonNode o : read(text)) {
            GenerationRequest r = new GenerationRequest(o.get("prompt").asText(), o.get("negative_prompt").asText(""),
                    o.get("width").asInt(), o.get("height").asInt(), o.get("steps").asInt(), text(o, "sampler"),
                    samplerOptions(text(o, "sampler_options")), guidance(text(o, "guidance")), o.get("seed").asLong(),
                    o.get("n").asInt(), img2img(o), sizeConditions(o.get("size_conditions")),
                    dev.sdcfg.pipeline.prompt.PromptSyntax.of(o.path("prompt_syntax").asText("a1111")), text(o, "model"),
                    loras(o.get("loras")), hires(o.get("hires")));
            JsonNode every = o.get("preview_every");
            tasks.add(new JobTask(text(o, "label"), r, every == null ? 0 : every.asInt()));
        }
        return tasks;
    }

    private static String png(dev.sdcfg.pipeline.InitImage im) {
        return java.util.Base64.getEncoder().encodeToString(
                dev.sdcfg.pipeline.image.PngEncoder.encodeRgb(im.rgb(), im.width(), im.height(), Map.of()));
    }

    private static dev.sdcfg.pipeline.InitImage image(JsonNode o, String field) {
        String png = text(o, field);
        return png == null ? null : dev.sdcfg.pipeline.InitImage.decode(java.util.Base64.getDecoder().decode(png),
                field, Long.MAX_VALUE);
    }

    private static dev.sdcfg.pipeline.Img2ImgInput img2img(JsonNode o) {
        dev.sdcfg.pipeline.InitImage image = image(o, "init_image");
        return image == null ? null : new dev.sdcfg.pipeline.Img2ImgInput(image, o.get("strength").asDouble(),
                image(o, "mask"), o.path("mask_blur").asInt(0),
                o.path("inpaint_full_res_padding").asInt(dev.sdcfg.pipeline.Img2ImgInput.FULL_RES_OFF),
                dev.sdcfg.pipeline.MaskedContent.of(o.path("masked_content").asText("original")));
    }

    private static dev.sdcfg.pipeline.HiresFix hires(JsonNode h) {
        return h == null || !h.isObject() ? null : new dev.sdcfg.pipeline.HiresFix(h.get("scale").asDouble(),
                h.get("steps").asInt(), h.get("strength").asDouble(),
                dev.sdcfg.pipeline.HiresFix.Upscaler.of(h.get("upscaler").asText()));
    }

    private static dev.sdcfg.pipeline.SizeConditions sizeConditions(JsonNode ids) {
        return ids == null || !ids.isArray() ? null : new dev.sdcfg.pipeline.SizeConditions(ids.get(0).asInt(),
                ids.get(1).asInt(), ids.get(2).asInt(), ids.get(3).asInt(), ids.get(4).asInt(), ids.get(5).asInt());
    }

    static String result(Job.Snapshot s) {
        ObjectNode o = JSON.createObjectNode();
        ArrayNode images = o.putArray("images");
        for (Job.ImageInfo i : s.images()) {
            images.addObject().put("index", i.index()).put("seed", i.seed()).put("width", i.width())
                    .put("height", i.height()).put("label", i.label());
        }
        o.set("warnings", JSON.valueToTree(s.warnings()));
        o.set("timings", JSON.valueToTree(s.timings()));
        o.put("grid", s.hasGrid());
        return write(o);
    }

    /** A preview as the shared store keeps it (the latest one per job, under its own key). */
    static String preview(Job.Preview p) {
        ObjectNode o = JSON.createObjectNode();
        o.put("step", p.step()).put("total", p.total()).put("generation", p.generation()).put("image", p.image())
                .put("width", p.width()).put("height", p.height())
                .put("png", java.util.Base64.getEncoder().encodeToString(p.png()));
        return write(o);
    }

    static Job.Preview preview(String text) {
        JsonNode o = read(text);
        return new Job.Preview(o.get("step").asInt(), o.get("total").asInt(), o.get("generation").asInt(),
                o.get("image").asInt(), o.get("width").asInt(), o.get("height").asInt(),
                java.util.Base64.getDecoder().decode(o.get("png").asText()));
    }

    static Result result(String text) {
        if (text == null || text.isEmpty()) {
            return new Result(List.of(), List.of(), Map.of(), false);
        }
        JsonNode o = read(text);
        List<Job.ImageInfo> images = new ArrayList<>();
        for (JsonNode i : o.get("images")) {
            images.add(new Job.ImageInfo(i.get("index").asInt(), i.get("seed").asLong(), i.get("width").asInt(),
                    i.get("height").asInt(), text(i, "label")));
        }
        List<String> warnings = JSON.convertValue(o.get("warnings"), new TypeReference<List<String>>() { });
        Map<String, Double> timings = JSON.convertValue(o.get("timings"),
                new TypeReference<LinkedHashMap<String, Double>>() { });
        return new Result(images, warnings, timings, o.get("grid").asBoolean());
    }

    private static SamplerOverrides samplerOptions(String text) {
        return text == null ? SamplerOverrides.NONE : SamplerOverrides.parse(text);
    }

    private static GuidanceSpec guidance(String text) {
        return text == null ? GuidanceSpec.DEFAULT : GuidanceSpec.parse(text);
    }

    private static List<dev.sdcfg.pipeline.LoraWeight> loras(JsonNode arr) {
        List<dev.sdcfg.pipeline.LoraWeight> out = new ArrayList<>();
        if (arr != null && arr.isArray()) {
            for (JsonNode l : arr) {
                out.add(new dev.sdcfg.pipeline.LoraWeight(l.get("name").asText(), l.get("weight").asDouble()));
            }
        }
        return out;
    }

    private static String text(JsonNode o, String field) {
        JsonNode v = o.get(field);
        return v == null || v.isNull() ? null : v.asText();
    }

    private static String write(JsonNode node) {
        try {
            return JSON.writeValueAsString(node);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static JsonNode read(String text) {
        try {
            return JSON.readTree(text);
        } catch (IOException e) {
            throw new UncheckedIOException("a stored job is not readable JSON", e);
        }
    }
}
