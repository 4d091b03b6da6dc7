package dev.sdcfg.guidance;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** What GET /v1/guidance lists: normalizers with their parameters, schedule kinds, the interval, presets. */
public final class GuidanceCatalog {

    private static final Map<String, String> SCHEDULE_DOCS = new LinkedHashMap<>();
    private static final Map<String, String> FIELD_DOCS = new LinkedHashMap<>();

    static {
        SCHEDULE_DOCS.put("constant", "the same value at every step (a bare number means this)");
        SCHEDULE_DOCS.put("cosine", "timm CosineLRScheduler(t_initial=N, lr_min=min): min + ½(max − min)(1 + cos(π·i/N)) "
                + "for step i of N (never quite reaches min); with warmup: for i < W = int(N·warmup) the line "
                + "warmup_start + i·(max − warmup_start)/W, then the cosine at i (timm warmup_prefix=False)");
        SCHEDULE_DOCS.put("linear", "from + (to − from)·i/(N − 1): from at the first step, to at the last");
        SCHEDULE_DOCS.put("power", "from + (to − from)·(i/(N − 1))^exponent");
        SCHEDULE_DOCS.put("step", "before for i < int(N·at), after from there on");
        SCHEDULE_DOCS.put("array", "one value per step; the array's length must equal the step count");

        FIELD_DOCS.put("value", "number");
        FIELD_DOCS.put("max", "number ≥ min");
        FIELD_DOCS.put("min", "number");
        FIELD_DOCS.put("warmup", "optional fraction of the steps in [0, 1), default 0");
        FIELD_DOCS.put("warmup_start", "optional number, value at step 0 of the warmup, default min");
        FIELD_DOCS.put("from", "number");
        FIELD_DOCS.put("to", "number");
        FIELD_DOCS.put("exponent", "number in (0, 100]");
        FIELD_DOCS.put("before", "number");
        FIELD_DOCS.put("after", "number");
        FIELD_DOCS.put("at", "fraction of the steps in [0, 1]");
        FIELD_DOCS.put("values", "array of numbers, one per step");
    }

    private GuidanceCatalog() {
    }

    /** A JSON-ready description (maps, lists, strings, numbers, booleans only). */
    public static Map<String, Object> describe() {
        Map<String, Object> out = new LinkedHashMap<>();

        List<Object> normalizers = new ArrayList<>();
        for (Normalizer n : Normalizer.values()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", n.id());
            m.put("title", n.title());
            m.put("description", n.description());
            m.put("formula", n.formula());
            List<Object> params = new ArrayList<>();
            for (Param p : n.params()) {
                Map<String, Object> pm = new LinkedHashMap<>();
                pm.put("name", p.name());
                pm.put("description", p.description());
                pm.put("min", numberValue(p.min()));
                pm.put("max", numberValue(p.max()));
                pm.put("default", numberValue(p.defaultValue()));
                pm.put("schedulable", p.schedulable());
                pm.put("type", p.integer() ? "integer" : "number");
                params.add(pm);
            }
            m.put("parameters", params);
            normalizers.add(m);
        }
        out.put("normalizers", normalizers);

        List<Object> schedules = new ArrayList<>();
        SpecParser.SCHEDULE_FIELDS.forEach((kind, fields) -> {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("schedule", kind);
            m.put("description", SCHEDULE_DOCS.get(kind));
            Map<String, Object> f = new LinkedHashMap<>();
            for (String field : fields) {
                f.put(field, FIELD_DOCS.get(field));
            }
            m.put("fields", f);
            schedules.add(m);
        });
        out.put("schedules", schedules);

        Map<String, Object> interval = new LinkedHashMap<>();
        interval.put("description", "guidance only for steps int(start·N) ≤ i < int(end·N); elsewhere the prediction is "
                + "the text-conditioned one alone and the unconditional UNet pass is skipped");
        Map<String, Object> intervalFields = new LinkedHashMap<>();
        intervalFields.put("start", "fraction in [0, 1), default 0");
        intervalFields.put("end", "fraction in (0, 1], default 1");
        interval.put("fields", intervalFields);
        out.put("interval", interval);

        List<Object> presets = new ArrayList<>();
        for (String name : GuidancePresets.names()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("name", name);
            m.put("spec", toJava(GuidancePresets.json(name)));
            presets.add(m);
        }
        out.put("presets", presets);

        out.put("examples", List.of(7.5,
                toJava(GuidancePresets.json("FullNormGuidance_Sched_TCos")),
                toJava(GuidancePresets.json("CFGuidance_Sched_CosWarmup")),
                toJava(JsonParser.parseString("{\"preset\":\"CFGuidance_Sched_Cos\",\"interval\":{\"start\":0,\"end\":0.6}}")),
                toJava(JsonParser.parseString("{\"normalizer\":\"apg\",\"g\":7.5,\"eta\":0,\"momentum\":-0.5}"))));
        return out;
    }

    private static Object numberValue(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e15 ? (Object) (long) v : (Object) v;
    }

    /** Gson tree → plain Java maps/lists/strings/numbers/booleans (null for JSON null). */
    static Object toJava(JsonElement e) {
        if (e == null || e.isJsonNull()) {
            return null;
        }
        if (e instanceof JsonObject o) {
            Map<String, Object> m = new LinkedHashMap<>();
            o.entrySet().forEach(en -> m.put(en.getKey(), toJava(en.getValue())));
            return m;
        }
        if (e instanceof JsonArray a) {
            List<Object> l = new ArrayList<>();
            a.forEach(x -> l.add(toJava(x)));
            return l;
        }
        JsonPrimitive p = e.getAsJsonPrimitive();
        if (p.isBoolean()) {
            return p.getAsBoolean();
        }
        if (p.isNumber()) {
            return numberValue(p.getAsDouble());
        }
        return p.getAsString();
    }
}
