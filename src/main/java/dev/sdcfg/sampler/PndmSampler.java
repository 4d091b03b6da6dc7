package dev.sdcfg.sampler;

import ai.djl.ndarray.NDArray;
import dev.sdcfg.runtime.HostScalars;

import java.util.ArrayList;
import java.util.List;

import static dev.sdcfg.sampler.SamplerOption.bool;
import static dev.sdcfg.sampler.SharedOptions.*;

/**
 * diffusers' {@code PNDMScheduler}: pseudo Runge–Kutta warm-up (unless {@code skip_prk_steps}) then pseudo linear
 * multistep (PLMS). With {@code skip_prk_steps} the second timestep is repeated, so there is one more model call
 * than steps ({@link #timesteps()} has them all).
 */
final class PndmSampler extends AbstractSampler {

    static final String CLASS = "PNDMScheduler";

    static final TrainSchedule.Args TRAIN = TrainSchedule.args(false, false, "linear", "scaled_linear", "squaredcos_cap_v2");
    static final SamplerOption<String> PREDICTION_TYPE = predictionType("epsilon", "v_prediction");
    static final SamplerOption<Boolean> SKIP_PRK_STEPS = bool("skip_prk_steps", false, "skip the Runge-Kutta warm-up (PLMS)");
    static final SamplerOption<Boolean> SET_ALPHA_TO_ONE = setAlphaToOne(false);
    static final List<SamplerOption<?>> OPTIONS = SamplerOption.list(common(TRAIN, PREDICTION_TYPE, LEADING_TIMESTEP_SPACING),
            SKIP_PRK_STEPS, SET_ALPHA_TO_ONE);
    private static final int PNDM_ORDER = 4;

    private final String predictionType;
    private final String spacing;
    private final int stepsOffset;
    private final boolean skipPrk;
    private final float finalAlphaCumprod;

    private int prkCount;
    private int counter;
    private final List<NDArray> ets = new ArrayList<>();
    private NDArray curSample;
    private NDArray curModelOutput;

    PndmSampler(String name, SamplerConfig c) {
        super(name, CLASS, c, TrainSchedule.from(c, TRAIN));
        predictionType = c.get(PREDICTION_TYPE);
        spacing = c.get(LEADING_TIMESTEP_SPACING);
        stepsOffset = c.get(STEPS_OFFSET);
        skipPrk = c.get(SKIP_PRK_STEPS);
        finalAlphaCumprod = c.get(SET_ALPHA_TO_ONE) ? 1f : train.alphasCumprod[0];
    }

    @Override
    protected String modelPredictionType() {
        return predictionType;
    }

    @Override
    protected void computeTimesteps(int n) {
        int T = train.numTrainTimesteps;
        // ascending base timesteps: DDIM's integer spacing, reversed
        double[] descending = intSpacing(spacing, T, n, stepsOffset);
        long[] base = new long[descending.length];
        for (int i = 0; i < base.length; i++) {
            base[i] = (long) descending[base.length - 1 - i];
        }
        int m = base.length;
        List<Long> all = new ArrayList<>();
        if (skipPrk) {
            // concat(base[:-1], base[-2:-1], base[-1:])[::-1]
            List<Long> fwd = new ArrayList<>();
            for (int i = 0; i < m - 1; i++) {
                fwd.add(base[i]);
            }
            if (m >= 2) {
                fwd.add(base[m - 2]);
            }
            fwd.add(base[m - 1]);
            for (int i = fwd.size() - 1; i >= 0; i--) {
                all.add(fwd.get(i));
            }
            prkCount = 0;
        } else {
            if (m < PNDM_ORDER) {
                throw new IllegalArgumentException("PNDM with Runge-Kutta warm-up (skip_prk_steps=false) needs at least "
                        + PNDM_ORDER + " steps, got " + n);
            }
            long half = T / n / 2;
            // prk = repeat(base[-4:], 2) + tile([0, half], 4); then prk[:-1].repeat(2)[1:-1][::-1]
            long[] prk = new long[2 * PNDM_ORDER];
            for (int k = 0; k < PNDM_ORDER; k++) {
                long v = base[m - PNDM_ORDER + k];
                prk[2 * k] = v;
                prk[2 * k + 1] = v + half;
            }
            List<Long> rep = new ArrayList<>();
            for (int k = 0; k < prk.length - 1; k++) {
                rep.add(prk[k]);
                rep.add(prk[k]);
            }
            List<Long> cut = rep.subList(1, rep.size() - 1);
            for (int k = cut.size() - 1; k >= 0; k--) {
                all.add(cut.get(k));
            }
            prkCount = cut.size();
            for (int i = m - 4; i >= 0; i--) { // base[:-3][::-1]
                all.add(base[i]);
            }
        }
        timesteps = new double[all.size()];
        for (int i = 0; i < timesteps.length; i++) {
            timesteps[i] = all.get(i);
        }
        sigmas = null;
        numInferenceSteps = n;
        counter = 0;
    }

    @Override
    protected NDArray doStep(NDArray model, int i, NDArray sample, NoiseSource noise) {
        if (counter < prkCount && !skipPrk) {
            return stepPrk(model, (long) timesteps[i], sample);
        }
        return stepPlms(model, (long) timesteps[i], sample);
    }

    private NDArray stepPrk(NDArray model, long timestep, NDArray sample) {
        int T = train.numTrainTimesteps;
        long diffToPrev = counter % 2 != 0 ? 0 : T / numInferenceSteps / 2;
        long prevTimestep = timestep - diffToPrev;
        long t = (long) timesteps[counter / 4 * 4];
        NDArray modelOut = model;
        switch (counter % 4) {
            case 0 -> {
                setCurModelOutput(accumulate(curModelOutput, 1.0 / 6, model));
                ets.add(keepCopy(model));
                free(curSample);
                curSample = keepCopy(sample);
            }
            case 1, 2 -> setCurModelOutput(accumulate(curModelOutput, 1.0 / 3, model));
            default -> {
                modelOut = accumulate(curModelOutput, 1.0 / 6, model);
                setCurModelOutput(null);
            }
        }
        NDArray cur = curSample != null ? curSample : sample;
        NDArray prev = prevSample(cur, t, prevTimestep, modelOut);
        counter++;
        return prev;
    }

    private static NDArray accumulate(NDArray acc, double c, NDArray model) {
        NDArray term = HostScalars.mul(model, c);
        return acc == null ? term : acc.add(term);
    }

    private void setCurModelOutput(NDArray v) {
        free(curModelOutput);
        curModelOutput = v == null ? null : keep(v);
    }

    private NDArray stepPlms(NDArray model, long timestep, NDArray sample) {
        int T = train.numTrainTimesteps;
        long stride = T / numInferenceSteps;
        long prevTimestep = timestep - stride;
        long t = timestep;
        if (counter != 1) {
            while (ets.size() > 3) {
                free(ets.remove(0));
            }
            ets.add(keepCopy(model));
        } else {
            prevTimestep = timestep;
            t = timestep + stride;
        }
        NDArray m;
        NDArray x = sample;
        int n = ets.size();
        if (n == 1 && counter == 0) {
            m = model;
            free(curSample);
            curSample = keepCopy(sample);
        } else if (n == 1 && counter == 1) {
            m = lin(0.5, model, 0.5, ets.get(0));
            x = curSample;
        } else if (n == 2) {
            m = lin(new double[] {3.0 / 2, -1.0 / 2}, ets.get(1), ets.get(0));
        } else if (n == 3) {
            m = lin(new double[] {23.0 / 12, -16.0 / 12, 5.0 / 12}, ets.get(2), ets.get(1), ets.get(0));
        } else {
            m = lin(new double[] {55.0 / 24, -59.0 / 24, 37.0 / 24, -9.0 / 24}, ets.get(3), ets.get(2), ets.get(1), ets.get(0));
        }
        NDArray prev = prevSample(x, t, prevTimestep, m);
        if (n == 1 && counter == 1) {
            free(curSample);
            curSample = null;
        }
        counter++;
        return prev;
    }

    /** diffusers' {@code _get_prev_sample} (formula (9) of the PNDM paper). */
    private NDArray prevSample(NDArray sample, long t, long prevT, NDArray model) {
        float ap = train.alphaCumprod((int) t);
        float app = prevT >= 0 ? train.alphaCumprod((int) prevT) : finalAlphaCumprod;
        float bp = 1f - ap;
        float bpp = 1f - app;
        double ms = 0;
        double mm = 1;
        if ("v_prediction".equals(predictionType)) {
            mm = ScheduleMath.sqrtf(ap);
            ms = ScheduleMath.sqrtf(bp);
        }
        float sampleCoeff = ScheduleMath.sqrtf(app / ap);
        float denom = ap * ScheduleMath.sqrtf(bpp) + ScheduleMath.sqrtf(ap * bp * app);
        double k = (double) (app - ap) / denom;
        // prev = sampleCoeff * sample - k * (mm * model + ms * sample)
        return lin(sampleCoeff - k * ms, sample, -k * mm, model);
    }

    @Override
    protected void releaseHistory() {
        free(ets);
        free(curSample);
        free(curModelOutput);
        curSample = null;
        curModelOutput = null;
        counter = 0;
    }
}
