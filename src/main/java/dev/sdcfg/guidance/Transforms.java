package dev.sdcfg.guidance;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

/** The normalizers' transforms: each overrides the pre-process, guide or post-process step it changes. */
final class Transforms {

    private Transforms() {
    }

    /** {@code none}: u + g·(t − u), all defaults. */
    static final class Cfg extends GuidanceTransform {
        Cfg(GuidancePlan plan) {
            super(plan);
        }
    }

    /** Rescales a prediction to the norm of u per image: p·‖u‖/‖p‖. */
    static NDArray toNormOfU(GuidanceTransform.Step s, NDArray pred) {
        return pred.mul(s.uNorm().div(s.norm(pred)));
    }

    /** {@code basenorm}: CFG, then p·‖u‖/‖p‖. */
    static final class BaseNorm extends GuidanceTransform {
        BaseNorm(GuidancePlan plan) {
            super(plan);
        }

        @Override
        protected NDArray postProcess(Step s, NDArray pred) {
            return toNormOfU(s, pred);
        }
    }

    /** {@code tnorm}: direction (t − u)·‖u‖/‖t − u‖, so the prediction is u + g·(t − u)/‖t − u‖·‖u‖. */
    static class TNorm extends GuidanceTransform {
        TNorm(GuidancePlan plan) {
            super(plan);
        }

        @Override
        protected void preProcess(Step s) {
            s.base = s.u;
            NDArray d = s.t.sub(s.u);
            s.direction = d.mul(s.uNorm().div(s.norm(d)));
        }
    }

    /** {@code fullnorm}: the tnorm prediction, then rescaled to ‖u‖ as basenorm does. */
    static final class FullNorm extends TNorm {
        FullNorm(GuidancePlan plan) {
            super(plan);
        }

        @Override
        protected NDArray postProcess(Step s, NDArray pred) {
            return toNormOfU(s, pred);
        }
    }

    /**
     * {@code rescale}: diffusers' {@code rescale_noise_cfg(cfg, t, φ)} = φ·cfg·std(t)/std(cfg) + (1 − φ)·cfg with
     * std over C,H,W. The unbiased (n − 1) factors cancel in the ratio, so it is taken as a ratio of the norms of
     * the mean-centred tensors; the mix is written cfg + φ·(cfg·r − cfg).
     */
    static final class Rescale extends GuidanceTransform {
        Rescale(GuidancePlan plan) {
            super(plan);
        }

        @Override
        protected NDArray postProcess(Step s, NDArray pred) {
            if (value("phi", s) == 0.0) {
                return pred;
            }
            NDArray tc = s.t.sub(s.mean(s.t));
            NDArray pc = pred.sub(s.mean(pred));
            NDArray ratio = s.norm(tc).div(s.norm(pc));
            return pred.mul(ratio).sub(pred).mul(param("phi", s)).add(pred);
        }
    }

    /**
     * {@code apg}: diffusers' {@code normalized_guidance(t, u, g, momentum_buffer, η, norm_threshold)} with
     * {@code use_original_formulation=False}, i.e. u + g·U. The momentum buffer lives across the steps of one job
     * (running = D + β·running, starting from 0); with β = 0 at every step no buffer is kept (the same result).
     */
    static final class Apg extends GuidanceTransform {
        private final boolean useMomentum;
        private NDArray running;

        Apg(GuidancePlan plan) {
            super(plan);
            boolean any = false;
            for (double m : plan.values("momentum")) {
                any |= m != 0.0;
            }
            useMomentum = any;
        }

        @Override
        protected void preProcess(Step s) {
            NDArray d = s.t.sub(s.u);
            if (useMomentum) {
                NDArray next = running == null ? d : d.add(running.mul(param("momentum", s)));
                release(running);
                running = keep(next);
                d = running;
            }
            if (value("norm_threshold", s) > 0) {
                // D·min(1, thr/‖D‖)
                NDArray factor = param("norm_threshold", s).div(s.norm(d)).minimum(constant(1.0));
                d = d.mul(factor);
            }
            // projection on t/max(‖t‖, 1e-12) (torch.nn.functional.normalize)
            NDArray v1 = s.t.div(s.norm(s.t).maximum(constant(1e-12)));
            NDArray parallel = d.mul(v1).sum(s.axes, true).mul(v1);
            NDArray orthogonal = d.sub(parallel);
            s.base = s.u;
            s.direction = value("eta", s) == 0.0 ? orthogonal : orthogonal.add(parallel.mul(param("eta", s)));
        }

        @Override
        protected void onRebind() {
            running = null; // was attached to the manager just closed
        }

        @Override
        public void close() {
            running = null;
            super.close();
        }
    }

    /**
     * {@code cfg-zero-star}: α = ⟨t,u⟩/(‖u‖² + 1e-8) per image, computed in float32 and cast back as diffusers'
     * {@code cfg_zero_star_scale} does; prediction α·u + g·(t − α·u). Zero-init steps are handled by the plan.
     */
    static final class CfgZeroStar extends GuidanceTransform {
        CfgZeroStar(GuidancePlan plan) {
            super(plan);
        }

        @Override
        protected void preProcess(Step s) {
            s.base = s.u.mul(alpha(s.t, s.u, s.axes, constant(1e-8, DataType.FLOAT32)));
            s.direction = s.t.sub(s.base);
        }
    }

    /**
     * CFG-Zero*'s α per image (shape [B,1,…]) in the dtype of {@code t}: the sums run in float32 whatever the
     * input dtype, as in diffusers; {@code eps} is the float32 constant 1e-8.
     */
    static NDArray alpha(NDArray t, NDArray u, int[] axes, NDArray eps) {
        NDArray t32 = t.toType(DataType.FLOAT32, false);
        NDArray u32 = u.toType(DataType.FLOAT32, false);
        NDArray dot = t32.mul(u32).sum(axes, true);
        NDArray sq = u32.mul(u32).sum(axes, true).add(eps);
        return dot.div(sq).toType(t.getDataType(), false);
    }
}
