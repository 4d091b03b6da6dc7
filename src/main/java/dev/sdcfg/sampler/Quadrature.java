package dev.sdcfg.sampler;

import java.util.function.DoubleUnaryOperator;

/**
 * Adaptive Gauss–Kronrod (G7/K15) quadrature, the same family of rules as QUADPACK behind
 * {@code scipy.integrate.quad}. Used for the LMS coefficients (integrals of Lagrange basis polynomials of degree
 * at most 3, which K15 integrates exactly on the first pass; the adaptive part makes it safe for anything else).
 */
public final class Quadrature {

    private static final double[] XGK = {
        0.991455371120812639206854697526329, 0.949107912342758524526189684047851,
        0.864864423359769072789712788640926, 0.741531185599394439863864773280788,
        0.586087235467691130294144845693013, 0.405845151377397166906606412076961,
        0.207784955007898467600689403773245, 0.000000000000000000000000000000000};
    private static final double[] WGK = {
        0.022935322010529224963732008058970, 0.063092092629978553290700663189204,
        0.104790010322250183839876322541518, 0.140653259715525918745189590510238,
        0.169004726639267902826583426598550, 0.190350578064785409913256402421014,
        0.204432940075298892414161999234649, 0.209482141084727828012999174891714};
    private static final double[] WG = {
        0.129484966168869693270611432679082, 0.279705391489276667901467771423780,
        0.381830050505118944950369775488975, 0.417959183673469387755102040816327};

    private Quadrature() {
    }

    /**
     * ∫_a^b f(x) dx to relative tolerance {@code epsRel} (absolute floor {@code 1e-14 · ∫|f|}); b &lt; a gives the
     * negated integral, as quad does.
     */
    public static double integrate(DoubleUnaryOperator f, double a, double b, double epsRel) {
        if (a == b) {
            return 0;
        }
        return adapt(f, a, b, epsRel, 0);
    }

    private static double adapt(DoubleUnaryOperator f, double a, double b, double epsRel, int depth) {
        double[] r = kronrod15(f, a, b);
        double result = r[0];
        double err = r[1];
        double absInt = r[2];
        if (err <= Math.max(epsRel * Math.abs(result), 1e-14 * absInt) || depth >= 50 || err == 0) {
            return result;
        }
        double m = 0.5 * (a + b);
        return adapt(f, a, m, epsRel, depth + 1) + adapt(f, m, b, epsRel, depth + 1);
    }

    /** {result (K15), error estimate |K15 − G7|, ∫|f| (K15)}. */
    static double[] kronrod15(DoubleUnaryOperator f, double a, double b) {
        double centr = 0.5 * (a + b);
        double hlgth = 0.5 * (b - a);
        double fc = f.applyAsDouble(centr);
        double resg = fc * WG[3];
        double resk = fc * WGK[7];
        double resabs = Math.abs(resk);
        for (int j = 0; j < 7; j++) {
            double absc = hlgth * XGK[j];
            double f1 = f.applyAsDouble(centr - absc);
            double f2 = f.applyAsDouble(centr + absc);
            resk += WGK[j] * (f1 + f2);
            resabs += WGK[j] * (Math.abs(f1) + Math.abs(f2));
            if (j % 2 == 1) {
                resg += WG[j / 2] * (f1 + f2);
            }
        }
        double h = Math.abs(hlgth);
        return new double[] {resk * hlgth, Math.abs((resk - resg) * hlgth), resabs * h};
    }
}
