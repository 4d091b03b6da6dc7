package dev.sdcfg.sampler;

import com.google.gson.JsonObject;
import dev.sdcfg.model.config.JsonConfig;
import dev.sdcfg.sampler.SamplerInfo.Option;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.BiFunction;

/**
 * Creates samplers by name ({@code lms}, {@code euler}, {@code euler_ancestral}, {@code ddim}, {@code pndm},
 * {@code dpmpp_2m}, {@code dpmpp_2m_karras}, {@code dpmpp_2m_sde}, {@code dpmpp_2m_sde_karras}, {@code ddpm},
 * {@code heun}, {@code unipc}, {@code dpm2}, {@code dpm2_karras}, {@code dpm2_ancestral},
 * {@code dpm2_ancestral_karras}, {@code deis}, {@code dpmpp_2s}, {@code dpmpp_2s_karras}; {@link #names()}) or
 * diffusers class name ({@code LMSDiscreteScheduler}, ...); {@code null}, {@code ""} or {@code "default"} pick
 * the model's own {@code _class_name}.
 *
 * <p>The effective config is the model's scheduler_config.json, then the name's preset, then the request's
 * overrides. Model-file keys the chosen class does not know are ignored (they may belong to the class the model
 * shipped with, as in diffusers' {@code from_config}); override keys must be options of the chosen sampler.
 * Anything unknown or invalid fails with an {@link IllegalArgumentException} naming the key.
 */
public final class SamplerFactory {

    private record Kind(String diffusersClass, BiFunction<String, SamplerConfig, AbstractSampler> ctor,
            List<SamplerOption<?>> options, String description) {

        /** The options a request may set, as {@code GET /v1/samplers} lists them. */
        List<Option> listed() {
            return options.stream().filter(SamplerOption::listed).map(SamplerOption::info).toList();
        }
    }

    private record Entry(String name, String diffusersClass, Map<String, Object> preset, String description) {
    }

    private static final Map<String, Kind> KINDS = new LinkedHashMap<>();
    private static final Map<String, Entry> ENTRIES = new LinkedHashMap<>();

    static {
        // each class declares its options (OPTIONS, like the arguments of the diffusers class's __init__)
        kind(LmsSampler.CLASS, LmsSampler::new, LmsSampler.OPTIONS,
                "Linear multistep (order 4) on the sigma ODE; coefficients by quadrature");
        kind(EulerSampler.CLASS, EulerSampler::new, EulerSampler.OPTIONS, "Euler method on the sigma ODE (Karras et al. Algorithm 2)");
        kind(EulerAncestralSampler.CLASS, EulerAncestralSampler::new, EulerAncestralSampler.OPTIONS,
                "Euler ancestral: Euler step plus fresh noise each step");
        kind(HeunSampler.CLASS, HeunSampler::new, HeunSampler.OPTIONS, "Heun's 2nd-order method (2 model calls per step)");
        kind(DdimSampler.CLASS, DdimSampler::new, DdimSampler.OPTIONS, "DDIM (deterministic with eta = 0)");
        kind(PndmSampler.CLASS, PndmSampler::new, PndmSampler.OPTIONS, "PNDM / PLMS (pseudo linear multistep)");
        kind(DdpmSampler.CLASS, DdpmSampler::new, DdpmSampler.OPTIONS, "DDPM ancestral sampling");
        kind(DpmSolverMultistepSampler.CLASS, DpmSolverMultistepSampler::new, DpmSolverMultistepSampler.OPTIONS,
                "DPM-Solver(++) multistep");
        kind(UniPcSampler.CLASS, UniPcSampler::new, UniPcSampler.OPTIONS, "UniPC multistep predictor-corrector");
        // KDPM2 (k-diffusion's DPM2 and DPM2 ancestral)
        kind(KDpm2Sampler.CLASS, KDpm2Sampler::discrete, KDpm2Sampler.OPTIONS,
                "DPM-Solver-2 step via a log-interpolated sigma (2 model calls per step)");
        kind(KDpm2Sampler.ANCESTRAL_CLASS, KDpm2Sampler::ancestral, KDpm2Sampler.OPTIONS,
                "DPM2 with ancestral noise each step (2 model calls per step)");

        entry("lms", LmsSampler.CLASS, Map.of(), "LMS (k-diffusion's lms)");
        entry("euler", EulerSampler.CLASS, Map.of(), "Euler");
        entry("euler_ancestral", EulerAncestralSampler.CLASS, Map.of(), "Euler ancestral (stochastic)");
        entry("ddim", DdimSampler.CLASS, Map.of(), "DDIM");
        entry("pndm", PndmSampler.CLASS, Map.of(), "PNDM (set skip_prk_steps for PLMS; SD configs do)");
        entry("dpmpp_2m", DpmSolverMultistepSampler.CLASS,
                ordered("algorithm_type", "dpmsolver++", "solver_order", 2, "use_karras_sigmas", false), "DPM++ 2M");
        entry("dpmpp_2m_karras", DpmSolverMultistepSampler.CLASS,
                ordered("algorithm_type", "dpmsolver++", "solver_order", 2, "use_karras_sigmas", true), "DPM++ 2M Karras");
        entry("dpmpp_2m_sde", DpmSolverMultistepSampler.CLASS,
                ordered("algorithm_type", "sde-dpmsolver++", "solver_order", 2, "use_karras_sigmas", false), "DPM++ 2M SDE (stochastic)");
        entry("dpmpp_2m_sde_karras", DpmSolverMultistepSampler.CLASS,
                ordered("algorithm_type", "sde-dpmsolver++", "solver_order", 2, "use_karras_sigmas", true), "DPM++ 2M SDE Karras (stochastic)");
        entry("ddpm", DdpmSampler.CLASS, Map.of(), "DDPM (stochastic)");
        entry("heun", HeunSampler.CLASS, Map.of(), "Heun (2 model calls per step)");
        entry("unipc", UniPcSampler.CLASS, Map.of(), "UniPC");
        // KDPM2
        entry("dpm2", KDpm2Sampler.CLASS, ordered("use_karras_sigmas", false), "DPM2 (k-diffusion's sample_dpm_2)");
        entry("dpm2_karras", KDpm2Sampler.CLASS, ordered("use_karras_sigmas", true), "DPM2 Karras");
        entry("dpm2_ancestral", KDpm2Sampler.ANCESTRAL_CLASS, ordered("use_karras_sigmas", false), "DPM2 ancestral (stochastic)");
        entry("dpm2_ancestral_karras", KDpm2Sampler.ANCESTRAL_CLASS, ordered("use_karras_sigmas", true), "DPM2 ancestral Karras (stochastic)");
    }

    // DEIS and single-step DPM-Solver (registered after the others, so they follow them in GET /v1/samplers)
    static {
        kind(DeisMultistepSampler.CLASS, DeisMultistepSampler::new, DeisMultistepSampler.OPTIONS,
                "DEIS multistep (log-rho polynomial extrapolation of the noise)");
        kind(DpmSolverSinglestepSampler.CLASS, DpmSolverSinglestepSampler::new, DpmSolverSinglestepSampler.OPTIONS,
                "DPM-Solver(++) single-step (steps grouped 1, 2[, 3]: one model call per step, higher orders within a group)");

        entry("deis", DeisMultistepSampler.CLASS, Map.of(), "DEIS");
        entry("dpmpp_2s", DpmSolverSinglestepSampler.CLASS,
                ordered("algorithm_type", "dpmsolver++", "solver_order", 2, "use_karras_sigmas", false), "DPM++ 2S (single-step, not ancestral)");
        entry("dpmpp_2s_karras", DpmSolverSinglestepSampler.CLASS,
                ordered("algorithm_type", "dpmsolver++", "solver_order", 2, "use_karras_sigmas", true), "DPM++ 2S Karras (single-step, not ancestral)");
    }

    private SamplerFactory() {
    }

    private static void kind(String cls, BiFunction<String, SamplerConfig, AbstractSampler> ctor, List<SamplerOption<?>> options,
            String description) {
        KINDS.put(cls, new Kind(cls, ctor, options, description));
    }

    private static void entry(String name, String cls, Map<String, Object> preset, String description) {
        ENTRIES.put(name, new Entry(name, cls, preset, description));
    }

    private static Map<String, Object> ordered(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) {
            m.put((String) kv[i], kv[i + 1]);
        }
        return Collections.unmodifiableMap(m);
    }

    /** Known sampler names (not counting diffusers class names, which are accepted too). */
    public static List<String> names() {
        return List.copyOf(ENTRIES.keySet());
    }

    /** Names, classes, presets and options, for {@code GET /v1/samplers}. */
    public static List<SamplerInfo> describe() {
        List<SamplerInfo> out = new ArrayList<>();
        for (Entry e : ENTRIES.values()) {
            Kind k = KINDS.get(e.diffusersClass);
            boolean stochastic = e.name.contains("ancestral") || e.name.contains("sde") || e.name.equals("ddpm");
            out.add(new SamplerInfo(e.name, k.diffusersClass, e.description + " — " + k.description, e.preset, stochastic,
                    k.listed()));
        }
        return out;
    }

    public static Sampler create(String name, JsonConfig schedulerConfig, JsonObject overrides) {
        return create(name, schedulerConfig == null ? null : schedulerConfig.json(),
                schedulerConfig == null ? null : schedulerConfig.source(), overrides);
    }

    /**
     * @param name sampler name, diffusers class name, or null / "default" for the config's {@code _class_name}
     * @param schedulerConfig the model's scheduler_config.json (may be null: class defaults)
     * @param source where the config came from (for messages)
     * @param overrides per-request options (may be null)
     */
    public static Sampler create(String name, JsonObject schedulerConfig, String source, JsonObject overrides) {
        Entry e = resolve(name, schedulerConfig);
        Kind k = KINDS.get(e.diffusersClass);
        if (overrides != null) {
            TreeSet<String> known = new TreeSet<>();
            for (Option o : k.listed()) {
                known.add(o.key());
            }
            for (String key : overrides.keySet()) {
                if (!known.contains(key)) {
                    throw new SamplerOptionException("unknown sampler option '" + key + "' for sampler '" + e.name
                            + "' (" + k.diffusersClass + "); supported: " + String.join(", ", known), "sampler_options." + key);
                }
            }
        }
        JsonObject preset = new JsonObject();
        e.preset.forEach((key, v) -> preset.add(key, SamplerConfig.json(v)));
        SamplerConfig cfg = SamplerConfig.of(schedulerConfig, source, preset, overrides, k.options);
        return k.ctor.apply(e.name, cfg);
    }

    /** Builds a diffusers class directly from an already-merged config (the parity tests use this). */
    public static Sampler createFromClass(String diffusersClass, JsonObject config) {
        Kind k = KINDS.get(diffusersClass);
        if (k == null) {
            throw SamplerOptionException.sampler("unknown scheduler class '" + diffusersClass + "'; supported: "
                    + String.join(", ", KINDS.keySet()));
        }
        String name = null;
        for (Entry e : ENTRIES.values()) {
            if (e.diffusersClass.equals(diffusersClass)) {
                name = e.name;
                break;
            }
        }
        return k.ctor.apply(name, SamplerConfig.of(config, "config", null, null, k.options));
    }

    private static Entry resolve(String name, JsonObject schedulerConfig) {
        String n = name == null ? "" : name.trim();
        if (n.isEmpty() || n.equalsIgnoreCase("default")) {
            if (schedulerConfig == null || !schedulerConfig.has("_class_name") || !schedulerConfig.get("_class_name").isJsonPrimitive()) {
                throw SamplerOptionException.sampler("sampler: the model's scheduler config has no _class_name; name a sampler ("
                        + String.join(", ", ENTRIES.keySet()) + ")");
            }
            n = schedulerConfig.get("_class_name").getAsString();
            if (!KINDS.containsKey(n)) {
                throw SamplerOptionException.sampler("sampler: the model's scheduler " + n + " is not supported; name one of "
                        + String.join(", ", ENTRIES.keySet()));
            }
        }
        Entry e = ENTRIES.get(n.toLowerCase(Locale.ROOT));
        if (e != null) {
            return e;
        }
        for (Kind k : KINDS.values()) {
            if (k.diffusersClass.equalsIgnoreCase(n)) {
                for (Entry x : ENTRIES.values()) {
                    if (x.diffusersClass.equals(k.diffusersClass) && x.preset.isEmpty()) {
                        return x;
                    }
                }
                // a class whose entries all carry presets (DPM-Solver): the class itself, no preset
                return new Entry(defaultNameFor(k.diffusersClass), k.diffusersClass, Map.of(), k.description);
            }
        }
        throw SamplerOptionException.sampler("unknown sampler '" + name + "'; supported: " + String.join(", ", ENTRIES.keySet())
                + " (or a diffusers class name: " + String.join(", ", KINDS.keySet()) + ")");
    }

    private static String defaultNameFor(String cls) {
        for (Entry x : ENTRIES.values()) {
            if (x.diffusersClass.equals(cls)) {
                return x.name;
            }
        }
        return cls;
    }
}
