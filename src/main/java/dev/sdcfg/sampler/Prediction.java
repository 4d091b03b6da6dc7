package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;

/**
 * diffusers' {@code prediction_type}: how a model output m becomes the denoised sample x0 (and the noise eps), as
 * linear combinations of m and the sample x. Coefficients are computed exactly as the samplers always did (float32
 * scalars, widened to double for {@link AbstractSampler#lin}), so results are bit-identical.
 */
final class Prediction {

    private Prediction() {
    }

    /**
     * The alpha/sigma form x = alpha·x0 + sigma·eps (DDIM, DDPM, DPM-Solver, UniPC): x0 = x0Sample·x + x0Model·m and
     * eps = epsSample·x + epsModel·m for prediction_type epsilon, sample, or v_prediction (any other value).
     */
    record AlphaSigma(double x0Sample, double x0Model, double epsSample, double epsModel) {

        static AlphaSigma of(String predictionType, float alpha, float sigma) {
            return switch (predictionType) {
                case "epsilon" -> new AlphaSigma(1.0 / alpha, -(double) sigma / alpha, 0, 1);
                case "sample" -> new AlphaSigma(0, 1, 1.0 / sigma, -(double) alpha / sigma);
                default -> new AlphaSigma(alpha, -sigma, sigma, alpha);
            };
        }

        NDArray x0(NDArray sample, NDArray model) {
            return AbstractSampler.lin(x0Sample, sample, x0Model, model);
        }

        NDArray eps(NDArray sample, NDArray model) {
            return AbstractSampler.lin(epsSample, sample, epsModel, model);
        }

        /** eps = (x − alpha·x0) / sigma. */
        static NDArray epsFromX0(NDArray sample, NDArray x0, float alpha, float sigma) {
            return of("sample", alpha, sigma).eps(sample, x0);
        }

        /** x0 = (x − sigma·eps) / alpha. */
        static NDArray x0FromEps(NDArray sample, NDArray eps, float alpha, float sigma) {
            return of("epsilon", alpha, sigma).x0(sample, eps);
        }
    }

    /**
     * The sigma form of the Karras-style samplers (Euler, Euler ancestral, Heun, LMS), x = x0 + sigma·eps:
     * x0 = a·m + b·x for prediction_type epsilon, v_prediction, or sample / original_sample (any other value).
     */
    record Sigma(double a, double b) {

        /**
         * @param epsSigma the sigma of the epsilon form (Euler uses sigma_hat there)
         * @param vSigma the sigma of the v_prediction form
         */
        static Sigma of(String predictionType, float epsSigma, float vSigma) {
            return switch (predictionType) {
                case "epsilon" -> new Sigma(-epsSigma, 1);
                case "v_prediction" -> new Sigma(-vSigma / ScheduleMath.sqrtf(vSigma * vSigma + 1f), 1.0 / (vSigma * vSigma + 1f));
                default -> new Sigma(1, 0);
            };
        }

        static Sigma of(String predictionType, float sigma) {
            return of(predictionType, sigma, sigma);
        }

        /** x0 = a·m + b·x. */
        NDArray x0(NDArray sample, NDArray model) {
            return AbstractSampler.lin(a, model, b, sample);
        }

        /** The ODE derivative (x − x0) / s. */
        NDArray derivative(NDArray sample, NDArray model, float s) {
            return AbstractSampler.lin((1 - b) / s, sample, -a / s, model);
        }

        /** An Euler step x + (x − x0) / s · dt. */
        NDArray eulerStep(NDArray x, NDArray model, float s, float dt) {
            double cx = b == 1 ? 1.0 : 1.0 + (1 - b) / s * dt;
            double cm = (-a / s) * dt;
            return AbstractSampler.lin(cx, x, cm, model);
        }
    }
}
