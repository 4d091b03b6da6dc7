package dev.sdcfg.guidance;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The source notebook's ten experiments as named presets. Fixed-G runs use a constant g; {@code TCos} is the
 * cosine 0.25 → 0.05, {@code Cos} the cosine 7.5 → 0.15 and {@code CosWarmup} that cosine with a 10% warmup
 * from 0.15 (timm {@code CosineLRScheduler(t_initial=N, lr_min=0.15, warmup_t=int(N·0.1), warmup_lr_init=0.15)}).
 */
public final class GuidancePresets {

    private static final String TCOS = "{\"schedule\":\"cosine\",\"max\":0.25,\"min\":0.05}";
    private static final String COS = "{\"schedule\":\"cosine\",\"max\":7.5,\"min\":0.15}";
    private static final String COS_WARMUP =
            "{\"schedule\":\"cosine\",\"max\":7.5,\"min\":0.15,\"warmup\":0.1,\"warmup_start\":0.15}";

    private static final Map<String, JsonObject> PRESETS = new LinkedHashMap<>();

    static {
        put("NoNorm_FixedG_7.50", "none", "7.5");
        put("BaseNorm_FixedG_7.50", "basenorm", "7.5");
        put("TNorm_FixedG_0.15", "tnorm", "0.15");
        put("FullNorm_FixedG_0.15", "fullnorm", "0.15");
        put("TNormGuidance_Sched_TCos", "tnorm", TCOS);
        put("FullNormGuidance_Sched_TCos", "fullnorm", TCOS);
        put("CFGuidance_Sched_Cos", "none", COS);
        put("CFGuidance_Sched_CosWarmup", "none", COS_WARMUP);
        put("BaseNormGuidance_Sched_Cos", "basenorm", COS);
        put("BaseNormGuidance_Sched_CosWarmup", "basenorm", COS_WARMUP);
    }

    private GuidancePresets() {
    }

    private static void put(String name, String normalizer, String g) {
        PRESETS.put(name, JsonParser.parseString("{\"normalizer\":\"" + normalizer + "\",\"g\":" + g + "}")
                .getAsJsonObject());
    }

    /** Preset names in the notebook's order. */
    public static Set<String> names() {
        return Collections.unmodifiableSet(PRESETS.keySet());
    }

    /** The preset's spec JSON (a fresh copy), or null for an unknown name. */
    public static JsonObject json(String name) {
        JsonObject o = PRESETS.get(name);
        return o == null ? null : o.deepCopy();
    }

    /** The preset as a spec. */
    public static GuidanceSpec spec(String name) {
        JsonObject o = new JsonObject();
        o.addProperty("preset", name);
        return GuidanceSpec.parse(o);
    }
}
