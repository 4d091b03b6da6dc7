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
            List<Option> options, String description) {
    }

    private record Entry(String name, String diffusersClass, Map<String, Object> preset, String description) {
    }

    private static final Map<String, Kind> KINDS = new LinkedHashMap<>();
    private static final Map<String, Entry> ENTRIES = new LinkedHashMap<>();

    static {
        List<String> schedules3 = List.of("linear", "scaled_linear", "squaredcos_cap_v2");
        kind(LmsSampler.CLASS, LmsSampler::new, "Linear multistep (order 4) on the sigma ODE; coefficients by quadrature",
                common(schedules3, List.of("epsilon", "v_prediction", "sample"), "linspace", 0.0001, 0.02),
                sigmaOptions(false), List.of());
        kind(EulerSampler.CLASS, EulerSampler::new, "Euler method on the sigma ODE (Karras et al. Algorithm 2)",
                common(schedules3, List.of("epsilon", "v_prediction", "sample", "original_sample"), "linspace", 0.0001, 0.02),
                sigmaOptions(true),
                List.of(opt("interpolation_type", "string", "linear", List.of("linear", "log_linear"), "how sigmas are interpolated between train timesteps"),
                        opt("timestep_type", "string", "discrete", List.of("discrete", "continuous"), "continuous: timesteps 0.25·log σ (v-prediction only)"),
                        opt("final_sigmas_type", "string", "zero", List.of("zero", "sigma_min"), "the sigma after the last step"),
                        opt("rescale_betas_zero_snr", "boolean", false, null, "rescale betas to zero terminal SNR"),
                        opt("s_churn", "number", 0.0, null, "stochasticity (step option); > 0 draws noise"),
                        opt("s_tmin", "number", 0.0, null, "lowest sigma that gets churn (step option)"),
                        opt("s_tmax", "number", "inf", null, "highest sigma that gets churn (step option)"),
                        opt("s_noise", "number", 1.0, null, "scale of the churn noise (step option)")));
        kind(EulerAncestralSampler.CLASS, EulerAncestralSampler::new, "Euler ancestral: Euler step plus fresh noise each step",
                common(schedules3, List.of("epsilon", "v_prediction"), "linspace", 0.0001, 0.02),
                List.of(opt("rescale_betas_zero_snr", "boolean", false, null, "rescale betas to zero terminal SNR")));
        kind(HeunSampler.CLASS, HeunSampler::new, "Heun's 2nd-order method (2 model calls per step)",
                common(List.of("linear", "scaled_linear", "squaredcos_cap_v2", "exp"), List.of("epsilon", "v_prediction", "sample"),
                        "linspace", 0.00085, 0.012),
                sigmaOptions(true),
                List.of(opt("clip_sample", "boolean", false, null, "clip the predicted x0"),
                        opt("clip_sample_range", "number", 1.0, null, "clip range")));
        kind(DdimSampler.CLASS, DdimSampler::new, "DDIM (deterministic with eta = 0)",
                common(schedules3, List.of("epsilon", "sample", "v_prediction"), "leading", 0.0001, 0.02),
                List.of(opt("clip_sample", "boolean", true, null, "clip the predicted x0"),
                        opt("clip_sample_range", "number", 1.0, null, "clip range"),
                        opt("set_alpha_to_one", "boolean", true, null, "final alpha_cumprod 1 (else alphas_cumprod[0])"),
                        opt("thresholding", "boolean", false, null, "dynamic thresholding of x0"),
                        opt("dynamic_thresholding_ratio", "number", 0.995, null, "quantile for dynamic thresholding"),
                        opt("sample_max_value", "number", 1.0, null, "threshold cap"),
                        opt("rescale_betas_zero_snr", "boolean", false, null, "rescale betas to zero terminal SNR"),
                        opt("eta", "number", 0.0, null, "noise weight (step option); > 0 draws noise"),
                        opt("use_clipped_model_output", "boolean", false, null, "re-derive eps from the clipped x0 (step option)")));
        kind(PndmSampler.CLASS, PndmSampler::new, "PNDM / PLMS (pseudo linear multistep)",
                common(schedules3, List.of("epsilon", "v_prediction"), "leading", 0.0001, 0.02),
                List.of(opt("skip_prk_steps", "boolean", false, null, "skip the Runge-Kutta warm-up (PLMS)"),
                        opt("set_alpha_to_one", "boolean", false, null, "final alpha_cumprod 1 (else alphas_cumprod[0])")));
        kind(DdpmSampler.CLASS, DdpmSampler::new, "DDPM ancestral sampling",
                common(List.of("linear", "scaled_linear", "squaredcos_cap_v2", "laplace", "sigmoid"),
                        List.of("epsilon", "sample", "v_prediction"), "leading", 0.0001, 0.02),
                List.of(opt("variance_type", "string", "fixed_small", List.of("fixed_small", "fixed_small_log", "fixed_large"), "posterior variance"),
                        opt("clip_sample", "boolean", true, null, "clip the predicted x0"),
                        opt("clip_sample_range", "number", 1.0, null, "clip range"),
                        opt("thresholding", "boolean", false, null, "dynamic thresholding of x0"),
                        opt("dynamic_thresholding_ratio", "number", 0.995, null, "quantile for dynamic thresholding"),
                        opt("sample_max_value", "number", 1.0, null, "threshold cap"),
                        opt("rescale_betas_zero_snr", "boolean", false, null, "rescale betas to zero terminal SNR")));
        kind(DpmSolverMultistepSampler.CLASS, DpmSolverMultistepSampler::new, "DPM-Solver(++) multistep",
                common(schedules3, List.of("epsilon", "sample", "v_prediction"), "linspace", 0.0001, 0.02),
                sigmaOptions(true),
                List.of(opt("solver_order", "integer", 2, null, "1, 2 or 3"),
                        opt("algorithm_type", "string", "dpmsolver++", List.of("dpmsolver++", "dpmsolver", "sde-dpmsolver++", "sde-dpmsolver", "deis"),
                                "sde-* variants draw noise"),
                        opt("solver_type", "string", "midpoint", List.of("midpoint", "heun", "logrho", "bh1", "bh2"), "second-order update"),
                        opt("lower_order_final", "boolean", true, null, "lower orders for the last steps when < 15 steps"),
                        opt("euler_at_final", "boolean", false, null, "first-order last step"),
                        opt("use_lu_lambdas", "boolean", false, null, "uniform log-SNR steps (Lu et al.)"),
                        opt("final_sigmas_type", "string", "zero", List.of("zero", "sigma_min"), "the sigma after the last step"),
                        opt("lambda_min_clipped", "number", "-inf", null, "clip the smallest log-SNR"),
                        opt("thresholding", "boolean", false, null, "dynamic thresholding of x0"),
                        opt("dynamic_thresholding_ratio", "number", 0.995, null, "quantile for dynamic thresholding"),
                        opt("sample_max_value", "number", 1.0, null, "threshold cap"),
                        opt("rescale_betas_zero_snr", "boolean", false, null, "rescale betas to zero terminal SNR"),
                        opt("variance_type", "string", null, List.of(), "only null (learned variances unsupported)"),
                        opt("use_flow_sigmas", "boolean", false, null, "only false"),
                        opt("flow_shift", "number", 1.0, null, "unused (flow models unsupported)"),
                        opt("use_dynamic_shifting", "boolean", false, null, "only false"),
                        opt("time_shift_type", "string", "exponential", List.of("exponential"), "unused")));
        kind(UniPcSampler.CLASS, UniPcSampler::new, "UniPC multistep predictor-corrector",
                common(schedules3, List.of("epsilon", "sample", "v_prediction"), "linspace", 0.0001, 0.02),
                sigmaOptions(true),
                List.of(opt("solver_order", "integer", 2, null, "1, 2 or 3"),
                        opt("predict_x0", "boolean", true, null, "data-prediction form"),
                        opt("solver_type", "string", "bh2", List.of("bh1", "bh2", "midpoint", "heun", "logrho"), "B(h)"),
                        opt("lower_order_final", "boolean", true, null, "lower orders for the last steps"),
                        opt("disable_corrector", "integer[]", List.of(), null, "step indices without the corrector"),
                        opt("final_sigmas_type", "string", "zero", List.of("zero", "sigma_min"), "the sigma after the last step"),
                        opt("thresholding", "boolean", false, null, "dynamic thresholding of x0"),
                        opt("dynamic_thresholding_ratio", "number", 0.995, null, "quantile for dynamic thresholding"),
                        opt("sample_max_value", "number", 1.0, null, "threshold cap"),
                        opt("rescale_betas_zero_snr", "boolean", false, null, "rescale betas to zero terminal SNR"),
                        opt("solver_p", "string", null, List.of(), "only null"),
                        opt("use_flow_sigmas", "boolean", false, null, "only false"),
                        opt("flow_shift", "number", 1.0, null, "unused (flow models unsupported)"),
                        opt("use_dynamic_shifting", "boolean", false, null, "only false"),
                        opt("time_shift_type", "string", "exponential", List.of("exponential"), "unused"),
                        opt("shift_terminal", "number", null, null, "only null")));
        // KDPM2 (k-diffusion's DPM2 and DPM2 ancestral)
        kind(KDpm2Sampler.CLASS, KDpm2Sampler::discrete, "DPM-Solver-2 step via a log-interpolated sigma (2 model calls per step)",
                common(schedules3, List.of("epsilon", "v_prediction"), "linspace", 0.00085, 0.012), sigmaOptions(true));
        kind(KDpm2Sampler.ANCESTRAL_CLASS, KDpm2Sampler::ancestral, "DPM2 with ancestral noise each step (2 model calls per step)",
                common(schedules3, List.of("epsilon", "v_prediction"), "linspace", 0.00085, 0.012), sigmaOptions(true));

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
        List<String> schedules = List.of("linear", "scaled_linear", "squaredcos_cap_v2");
        kind(DeisMultistepSampler.CLASS, DeisMultistepSampler::new, "DEIS multistep (log-rho polynomial extrapolation of the noise)",
                common(schedules, List.of("epsilon", "sample", "v_prediction"), "linspace", 0.0001, 0.02),
                sigmaOptions(true),
                List.of(opt("solver_order", "integer", 2, null, "1, 2 or 3"),
                        opt("algorithm_type", "string", "deis", List.of("deis", "dpmsolver", "dpmsolver++"), "all mean deis"),
                        opt("solver_type", "string", "logrho", List.of("logrho", "midpoint", "heun", "bh1", "bh2"), "all mean logrho"),
                        opt("lower_order_final", "boolean", true, null, "lower orders for the last steps when < 15 steps"),
                        opt("thresholding", "boolean", false, null, "dynamic thresholding of x0"),
                        opt("dynamic_thresholding_ratio", "number", 0.995, null, "quantile for dynamic thresholding"),
                        opt("sample_max_value", "number", 1.0, null, "threshold cap"),
                        opt("use_flow_sigmas", "boolean", false, null, "only false"),
                        opt("flow_shift", "number", 1.0, null, "unused (flow models unsupported)"),
                        opt("use_dynamic_shifting", "boolean", false, null, "only false"),
                        opt("time_shift_type", "string", "exponential", List.of("exponential"), "unused")));
        // the single-step class has no timestep_spacing / steps_offset: its timesteps are always linspace-spaced
        kind(DpmSolverSinglestepSampler.CLASS, DpmSolverSinglestepSampler::new,
                "DPM-Solver(++) single-step (steps grouped 1, 2[, 3]: one model call per step, higher orders within a group)",
                withoutKeys(common(schedules, List.of("epsilon", "sample", "v_prediction"), "linspace", 0.0001, 0.02),
                        "timestep_spacing", "steps_offset"),
                sigmaOptions(true),
                List.of(opt("solver_order", "integer", 2, null, "1, 2 or 3"),
                        opt("algorithm_type", "string", "dpmsolver++", List.of("dpmsolver++", "dpmsolver", "sde-dpmsolver++", "deis"),
                                "sde-dpmsolver++ draws noise; deis means dpmsolver++; dpmsolver needs final_sigmas_type sigma_min"),
                        opt("solver_type", "string", "midpoint", List.of("midpoint", "heun", "logrho", "bh1", "bh2"),
                                "second/third-order update (logrho, bh1, bh2 mean midpoint)"),
                        opt("lower_order_final", "boolean", false, null,
                                "false keeps full-order groups to the end; needs final_sigmas_type sigma_min and steps divisible by solver_order, else it is turned on"),
                        opt("final_sigmas_type", "string", "zero", List.of("zero", "sigma_min"), "the sigma after the last step"),
                        opt("lambda_min_clipped", "number", "-inf", null, "clip the smallest log-SNR"),
                        opt("thresholding", "boolean", false, null, "dynamic thresholding of x0 (not with dpmsolver)"),
                        opt("dynamic_thresholding_ratio", "number", 0.995, null, "quantile for dynamic thresholding"),
                        opt("sample_max_value", "number", 1.0, null, "threshold cap"),
                        opt("variance_type", "string", null, List.of(), "only null (learned variances unsupported)"),
                        opt("use_flow_sigmas", "boolean", false, null, "only false"),
                        opt("flow_shift", "number", 1.0, null, "unused (flow models unsupported)"),
                        opt("use_dynamic_shifting", "boolean", false, null, "only false"),
                        opt("time_shift_type", "string", "exponential", List.of("exponential"), "unused")));

        entry("deis", DeisMultistepSampler.CLASS, Map.of(), "DEIS");
        entry("dpmpp_2s", DpmSolverSinglestepSampler.CLASS,
                ordered("algorithm_type", "dpmsolver++", "solver_order", 2, "use_karras_sigmas", false), "DPM++ 2S (single-step, not ancestral)");
        entry("dpmpp_2s_karras", DpmSolverSinglestepSampler.CLASS,
                ordered("algorithm_type", "dpmsolver++", "solver_order", 2, "use_karras_sigmas", true), "DPM++ 2S Karras (single-step, not ancestral)");
    }

    private static List<Option> withoutKeys(List<Option> options, String... keys) {
        List<String> drop = List.of(keys);
        return options.stream().filter(o -> !drop.contains(o.key())).toList();
    }

    private SamplerFactory() {
    }

    private static void kind(String cls, BiFunction<String, SamplerConfig, AbstractSampler> ctor, String description,
            List<Option> common, List<Option> extra1, List<Option> extra2) {
        List<Option> all = new ArrayList<>(common);
        all.addAll(extra1);
        all.addAll(extra2);
        KINDS.put(cls, new Kind(cls, ctor, Collections.unmodifiableList(all), description));
    }

    private static void kind(String cls, BiFunction<String, SamplerConfig, AbstractSampler> ctor, String description,
            List<Option> common, List<Option> extra) {
        kind(cls, ctor, description, common, extra, List.of());
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

    private static Option opt(String key, String type, Object dflt, List<String> allowed, String description) {
        return new Option(key, type, dflt, allowed == null ? List.of() : allowed, description);
    }

    private static List<Option> common(List<String> schedules, List<String> predictions, String spacing,
            double betaStart, double betaEnd) {
        List<Option> l = new ArrayList<>();
        l.add(opt("num_train_timesteps", "integer", 1000, null, "training timesteps"));
        l.add(opt("beta_start", "number", betaStart, null, "first beta"));
        l.add(opt("beta_end", "number", betaEnd, null, "last beta"));
        l.add(opt("beta_schedule", "string", "linear", schedules, "beta schedule"));
        l.add(opt("trained_betas", "number[]", null, null, "explicit betas (overrides the schedule)"));
        l.add(opt("prediction_type", "string", "epsilon", predictions, "what the model predicts"));
        l.add(opt("timestep_spacing", "string", spacing, List.of("linspace", "leading", "trailing"), "how inference timesteps are spaced"));
        l.add(opt("steps_offset", "integer", 0, null, "offset added to leading timesteps"));
        return l;
    }

    private static List<Option> sigmaOptions(boolean sigmaRange) {
        List<Option> l = new ArrayList<>();
        l.add(opt("use_karras_sigmas", "boolean", false, null, "Karras et al. (rho = 7) sigma spacing"));
        l.add(opt("use_exponential_sigmas", "boolean", false, null, "log-uniform sigma spacing"));
        l.add(opt("use_beta_sigmas", "boolean", false, null, "Beta(0.6, 0.6) sigma spacing"));
        if (sigmaRange) {
            l.add(opt("sigma_min", "number", null, null, "lowest sigma of the Karras/exponential/beta schedules"));
            l.add(opt("sigma_max", "number", null, null, "highest sigma of the Karras/exponential/beta schedules"));
        }
        return l;
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
                    k.options));
        }
        return out;
    }

    /** Resolves a name or class name to the canonical sampler name; IllegalArgumentException when unknown. */
    public static String canonicalName(String name, JsonConfig schedulerConfig) {
        return resolve(name, schedulerConfig == null ? null : schedulerConfig.json()).name;
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
            for (Option o : k.options) {
                known.add(o.key());
            }
            for (String key : overrides.keySet()) {
                if (!known.contains(key)) {
                    throw new IllegalArgumentException("unknown sampler option '" + key + "' for sampler '" + e.name
                            + "' (" + k.diffusersClass + "); supported: " + String.join(", ", known));
                }
            }
        }
        JsonObject preset = new JsonObject();
        e.preset.forEach((key, v) -> preset.add(key, SamplerConfig.json(v)));
        SamplerConfig cfg = SamplerConfig.of(schedulerConfig, source, preset, overrides);
        return k.ctor.apply(e.name, cfg);
    }

    /** Builds a diffusers class directly from an already-merged config (the parity tests use this). */
    public static Sampler createFromClass(String diffusersClass, JsonObject config) {
        Kind k = KINDS.get(diffusersClass);
        if (k == null) {
            throw new IllegalArgumentException("unknown scheduler class '" + diffusersClass + "'; supported: "
                    + String.join(", ", KINDS.keySet()));
        }
        String name = null;
        for (Entry e : ENTRIES.values()) {
            if (e.diffusersClass.equals(diffusersClass)) {
                name = e.name;
                break;
            }
        }
        return k.ctor.apply(name, SamplerConfig.of(config, "config", null, null));
    }

    private static Entry resolve(String name, JsonObject schedulerConfig) {
        String n = name == null ? "" : name.trim();
        if (n.isEmpty() || n.equalsIgnoreCase("default")) {
            if (schedulerConfig == null || !schedulerConfig.has("_class_name") || !schedulerConfig.get("_class_name").isJsonPrimitive()) {
                throw new IllegalArgumentException("sampler: the model's scheduler config has no _class_name; name a sampler ("
                        + String.join(", ", ENTRIES.keySet()) + ")");
            }
            n = schedulerConfig.get("_class_name").getAsString();
            if (!KINDS.containsKey(n)) {
                throw new IllegalArgumentException("sampler: the model's scheduler " + n + " is not supported; name one of "
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
        throw new IllegalArgumentException("unknown sampler '" + name + "'; supported: " + String.join(", ", ENTRIES.keySet())
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
