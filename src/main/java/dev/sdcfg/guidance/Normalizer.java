package dev.sdcfg.guidance;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * How the unconditional prediction u and the text-conditioned prediction t are mixed. ‖·‖ is the L2 norm over
 * C,H,W of one image (per batch item, so batching never changes a result).
 */
public enum Normalizer {

    NONE("none", "CFG", "Plain classifier-free guidance", "u + g·(t − u)",
            Transforms.Cfg::new, g(7.5)),
    BASENORM("basenorm", "BaseNorm", "CFG, then the prediction rescaled to the norm of u",
            "p = u + g·(t − u); p·‖u‖/‖p‖", Transforms.BaseNorm::new, g(7.5)),
    TNORM("tnorm", "TNorm", "The guidance update (t − u) normalised to unit norm and scaled by ‖u‖ (g is then a "
            + "fraction of ‖u‖, e.g. 0.15)", "u + g·(t − u)/‖t − u‖·‖u‖", Transforms.TNorm::new, g(0.15)),
    FULLNORM("fullnorm", "FullNorm", "The tnorm prediction, then rescaled to the norm of u as basenorm does",
            "p = u + g·(t − u)/‖t − u‖·‖u‖; p·‖u‖/‖p‖", Transforms.FullNorm::new, g(0.15)),
    RESCALE("rescale", "Rescale", "CFG followed by diffusers' guidance_rescale (Lin et al. 2023, sec. 3.4): the "
            + "prediction's std (over C,H,W, unbiased) is matched to t's and mixed by φ",
            "p = u + g·(t − u); φ·p·std(t)/std(p) + (1 − φ)·p", Transforms.Rescale::new, g(7.5),
            Param.scheduled("phi", "φ", "mix factor of the std-rescaled prediction (0: plain CFG)", 0, 1, 0.7)),
    APG("apg", "APG", "Adaptive projected guidance (diffusers normalized_guidance): the update t − u, after a momentum "
            + "running average and a norm threshold, split into parts parallel and orthogonal to t; the parallel part "
            + "is scaled by η",
            "D = t − u (momentum: D ← D + β·D_prev; if thr > 0: D ← D·min(1, thr/‖D‖)); "
                    + "U = D⊥ + η·D∥ (w.r.t. t); u + g·U", Transforms.Apg::new, g(7.5),
            Param.scheduled("eta", "η", "weight of the update's component parallel to t", 0, 1, 1.0),
            Param.scheduled("norm_threshold", "thr", "the update's norm is clipped to this (0: no clipping)", 0, 1000,
                    15.0),
            Param.scheduled("momentum", "β", "running-average momentum of the update across steps (0: none; the "
                    + "APG paper uses −0.5)", -1, 1, 0.0)),
    CFG_ZERO_STAR("cfg-zero-star", "CFG-Zero*", "CFG-Zero*: u scaled by the optimised α = ⟨t,u⟩/(‖u‖²+1e-8) "
            + "(computed in float32, as diffusers does) before CFG; the first zero_init_steps predictions are zero",
            "α·u + g·(t − α·u)", Transforms.CfgZeroStar::new, g(7.5),
            Param.wholeNumber("zero_init_steps", "zero-init", "number of first steps whose prediction is all zeros", 0,
                    GuidanceSpec.MAX_STEPS, 0));

    private final String id;
    private final String title;
    private final String description;
    private final String formula;
    private final Function<GuidancePlan, GuidanceTransform> factory;
    private final List<Param> params;

    Normalizer(String id, String title, String description, String formula,
               Function<GuidancePlan, GuidanceTransform> factory, Param... params) {
        this.id = id;
        this.title = title;
        this.description = description;
        this.formula = formula;
        this.factory = factory;
        this.params = List.of(params);
    }

    private static Param g(double def) {
        return Param.scheduled("g", "g", "guidance scale", 0, 100, def);
    }

    /** The name used in JSON ("none", "basenorm", "tnorm", "fullnorm", "rescale", "apg", "cfg-zero-star"). */
    public String id() {
        return id;
    }

    /** Short title for labels. */
    public String title() {
        return title;
    }

    public String description() {
        return description;
    }

    public String formula() {
        return formula;
    }

    /** Its parameters, {@code g} first. */
    public List<Param> params() {
        return params;
    }

    /** The named parameter, or null when this normalizer has none of that name. */
    public Param param(String name) {
        for (Param p : params) {
            if (p.name().equals(name)) {
                return p;
            }
        }
        return null;
    }

    GuidanceTransform newTransform(GuidancePlan plan) {
        return factory.apply(plan);
    }

    /** The normalizer with this id (case-insensitive), or null. */
    public static Normalizer byId(String id) {
        String s = id.toLowerCase(Locale.ROOT);
        for (Normalizer n : values()) {
            if (n.id.equals(s)) {
                return n;
            }
        }
        return null;
    }

    static String ids() {
        return Arrays.stream(values()).map(Normalizer::id).collect(Collectors.joining(", "));
    }
}
