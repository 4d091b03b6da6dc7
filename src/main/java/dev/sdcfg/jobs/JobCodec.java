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
                    o.get("n").asInt(), text(o, "model"), loras(o.get("loras")));
            tasks.add(new JobTask(text(o, "label"), r));
        }
        return tasks;
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
