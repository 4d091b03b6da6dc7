package dev.sdcfg.sampler;

import java.util.ArrayList;
import java.util.List;

import static dev.sdcfg.sampler.SamplerOption.bool;
import static dev.sdcfg.sampler.SamplerOption.choice;
import static dev.sdcfg.sampler.SamplerOption.fixed;
import static dev.sdcfg.sampler.SamplerOption.integer;
import static dev.sdcfg.sampler.SamplerOption.number;
import static dev.sdcfg.sampler.SamplerOption.optionalNumber;
import static dev.sdcfg.sampler.SamplerOption.unused;

/**
 * The config arguments that several diffusers schedulers declare alike, each declared once here (diffusers repeats
 * them in every {@code __init__}); those whose default or accepted values vary by class are made here per class.
 */
final class SharedOptions {

    static final SamplerOption<Integer> NUM_TRAIN_TIMESTEPS = integer("num_train_timesteps", 1000, "training timesteps");
    static final SamplerOption<double[]> TRAINED_BETAS = SamplerOption.numbers("trained_betas", "explicit betas (overrides the schedule)");
    static final SamplerOption<Boolean> RESCALE_BETAS_ZERO_SNR = bool("rescale_betas_zero_snr", false, "rescale betas to zero terminal SNR");
    /** timestep_spacing of the sigma samplers and the multistep solvers. */
    static final SamplerOption<String> TIMESTEP_SPACING = timestepSpacing("linspace");
    /** timestep_spacing of DDIM, DDPM and PNDM. */
    static final SamplerOption<String> LEADING_TIMESTEP_SPACING = timestepSpacing("leading");
    static final SamplerOption<Integer> STEPS_OFFSET = integer("steps_offset", 0, "offset added to leading timesteps");

    static final SamplerOption<Boolean> USE_KARRAS_SIGMAS = bool("use_karras_sigmas", false, "Karras et al. (rho = 7) sigma spacing");
    static final SamplerOption<Boolean> USE_EXPONENTIAL_SIGMAS = bool("use_exponential_sigmas", false, "log-uniform sigma spacing");
    static final SamplerOption<Boolean> USE_BETA_SIGMAS = bool("use_beta_sigmas", false, "Beta(0.6, 0.6) sigma spacing");
    static final SamplerOption<Double> SIGMA_MIN = optionalNumber("sigma_min", "lowest sigma of the Karras/exponential/beta schedules");
    static final SamplerOption<Double> SIGMA_MAX = optionalNumber("sigma_max", "highest sigma of the Karras/exponential/beta schedules");
    /** The sigma-schedule switches and their range, as the samplers that convert sigmas list them. */
    static final List<SamplerOption<?>> SIGMA_OPTIONS = List.of(USE_KARRAS_SIGMAS, USE_EXPONENTIAL_SIGMAS, USE_BETA_SIGMAS,
            SIGMA_MIN, SIGMA_MAX);
    static final SamplerOption<String> FINAL_SIGMAS_TYPE = choice("final_sigmas_type", "zero", List.of("zero", "sigma_min"),
            "the sigma after the last step");

    static final SamplerOption<Double> CLIP_SAMPLE_RANGE = number("clip_sample_range", 1.0, "clip range");
    static final SamplerOption<Boolean> THRESHOLDING = bool("thresholding", false, "dynamic thresholding of x0");
    static final SamplerOption<Double> DYNAMIC_THRESHOLDING_RATIO = number("dynamic_thresholding_ratio", 0.995,
            "quantile for dynamic thresholding");
    static final SamplerOption<Double> SAMPLE_MAX_VALUE = number("sample_max_value", 1.0, "threshold cap");

    // the multistep solvers (DPM-Solver, UniPC, DEIS)
    /** flow_prediction, not listed, is refused with its own message. */
    static final SamplerOption<String> MULTISTEP_PREDICTION_TYPE = predictionType("epsilon", "sample", "v_prediction");
    static final SamplerOption<Integer> SOLVER_ORDER = integer("solver_order", 2, "1, 2 or 3");
    /** lower_order_final of DPM-Solver multistep and DEIS. */
    static final SamplerOption<Boolean> LOWER_ORDER_FINAL = bool("lower_order_final", true,
            "lower orders for the last steps when < 15 steps");
    static final SamplerOption<Double> LAMBDA_MIN_CLIPPED = number("lambda_min_clipped", Double.NEGATIVE_INFINITY,
            "clip the smallest log-SNR");
    static final SamplerOption<Object> DPM_VARIANCE_TYPE = fixed("variance_type", "string", null, List.of(),
            "only null (learned variances unsupported)", "learned variances are not supported");
    static final SamplerOption<Boolean> USE_FLOW_SIGMAS = fixed("use_flow_sigmas", "boolean", false, List.of(), "only false",
            "flow-matching sigmas are not supported", SamplerConfig.json(false));
    static final SamplerOption<Double> FLOW_SHIFT = unused("flow_shift", "number", 1.0, List.of(), "unused (flow models unsupported)");
    static final SamplerOption<Boolean> USE_DYNAMIC_SHIFTING = fixed("use_dynamic_shifting", "boolean", false, List.of(), "only false",
            "dynamic shifting is for flow-matching models", SamplerConfig.json(false));
    static final SamplerOption<String> TIME_SHIFT_TYPE = unused("time_shift_type", "string", "exponential", List.of("exponential"),
            "unused");

    private SharedOptions() {
    }

    static SamplerOption<Double> betaStart(double dflt) {
        return number("beta_start", dflt, "first beta");
    }

    static SamplerOption<Double> betaEnd(double dflt) {
        return number("beta_end", dflt, "last beta");
    }

    static SamplerOption<String> betaSchedule(String... schedules) {
        return choice("beta_schedule", "linear", List.of(schedules), "beta schedule");
    }

    static SamplerOption<String> predictionType(String... accepted) {
        return choice("prediction_type", "epsilon", List.of(accepted), "what the model predicts");
    }

    static SamplerOption<String> timestepSpacing(String dflt) {
        return choice("timestep_spacing", dflt, List.of("linspace", "leading", "trailing"), "how inference timesteps are spaced");
    }

    static SamplerOption<Boolean> clipSample(boolean dflt) {
        return bool("clip_sample", dflt, "clip the predicted x0");
    }

    static SamplerOption<Boolean> setAlphaToOne(boolean dflt) {
        return bool("set_alpha_to_one", dflt, "final alpha_cumprod 1 (else alphas_cumprod[0])");
    }

    /**
     * The arguments every class starts with: the training schedule, prediction_type, and (unless {@code spacing} is
     * null: DPMSolverSinglestepScheduler has neither) timestep_spacing and steps_offset.
     */
    static List<SamplerOption<?>> common(TrainSchedule.Args train, SamplerOption<String> prediction, SamplerOption<String> spacing) {
        List<SamplerOption<?>> l = new ArrayList<>(List.of(NUM_TRAIN_TIMESTEPS, train.betaStart(), train.betaEnd(),
                train.betaSchedule(), TRAINED_BETAS, prediction));
        if (spacing != null) {
            l.add(spacing);
            l.add(STEPS_OFFSET);
        }
        return l;
    }

    /** Flow-matching switches the multistep solvers accept only off. */
    static final List<SamplerOption<?>> FLOW_OPTIONS = List.of(USE_FLOW_SIGMAS, FLOW_SHIFT, USE_DYNAMIC_SHIFTING, TIME_SHIFT_TYPE);
}
