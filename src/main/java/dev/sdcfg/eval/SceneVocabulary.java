package dev.sdcfg.eval;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The demo world's words and geometry, the same as tools/demo-model/scenes.py (COLORS, SHAPES, SIZES, POSITIONS and
 * shape_mask): the training data's renderer and this reader must agree, so a change there is a change here.
 */
public final class SceneVocabulary {

    public static final int SIZE = 64;

    static final Map<String, int[]> COLORS = new LinkedHashMap<>();

    static {
        COLORS.put("red", new int[] {220, 30, 30});
        COLORS.put("orange", new int[] {245, 140, 20});
        COLORS.put("yellow", new int[] {240, 225, 40});
        COLORS.put("green", new int[] {40, 170, 50});
        COLORS.put("blue", new int[] {35, 70, 215});
        COLORS.put("purple", new int[] {140, 45, 175});
        COLORS.put("white", new int[] {245, 245, 245});
        COLORS.put("black", new int[] {20, 20, 20});
    }

    public static final List<String> COLOR_NAMES = List.copyOf(COLORS.keySet());
    public static final List<String> SHAPES = List.of("circle", "square", "triangle", "star", "ring", "cross");
    /** Radius of each size's circumscribed circle, px. */
    static final Map<String, Double> SIZES = Map.of("small", 9.0, "large", 15.0);
    /** Centre of a single object per position word. */
    static final Map<String, double[]> POSITIONS = new LinkedHashMap<>();

    static {
        POSITIONS.put("center", new double[] {32, 32});
        POSITIONS.put("left", new double[] {17, 32});
        POSITIONS.put("right", new double[] {47, 32});
        POSITIONS.put("top", new double[] {32, 17});
        POSITIONS.put("bottom", new double[] {32, 47});
    }

    public static final List<String> POSITION_NAMES = List.copyOf(POSITIONS.keySet());

    private SceneVocabulary() {
    }

    /** Index in {@link #COLOR_NAMES} of the named colour nearest to a packed 0xRRGGBB pixel. */
    static int nearest(int rgb) {
        int best = 0;
        double bestD = Double.MAX_VALUE;
        for (int c = 0; c < COLOR_NAMES.size(); c++) {
            double d = distance(rgb, c);
            if (d < bestD) {
                bestD = d;
                best = c;
            }
        }
        return best;
    }

    static double distance(int rgb, int colorIndex) {
        int[] c = COLORS.get(COLOR_NAMES.get(colorIndex));
        double dr = ((rgb >> 16) & 255) - c[0];
        double dg = ((rgb >> 8) & 255) - c[1];
        double db = (rgb & 255) - c[2];
        return Math.sqrt(dr * dr + dg * dg + db * db);
    }

    static String nearestSize(double radius) {
        return Math.abs(radius - SIZES.get("small")) <= Math.abs(radius - SIZES.get("large")) ? "small" : "large";
    }

    static String nearestPosition(double x, double y) {
        String best = null;
        double bestD = Double.MAX_VALUE;
        for (Map.Entry<String, double[]> e : POSITIONS.entrySet()) {
            double d = Math.hypot(x - e.getValue()[0], y - e.getValue()[1]);
            if (d < bestD) {
                bestD = d;
                best = e.getKey();
            }
        }
        return best;
    }

    /** scenes.shape_mask for one point: is (x, y) inside {@code shape} of circumradius r centred at (cx, cy)? */
    static boolean inside(String shape, double x, double y, double cx, double cy, double r) {
        double dx = x - cx;
        double dy = y - cy;
        double d = Math.hypot(dx, dy);
        switch (shape) {
            case "circle":
                return d <= r;
            case "square":
                return Math.max(Math.abs(dx), Math.abs(dy)) <= r * 0.78;
            case "ring":
                return d <= r && d >= r * 0.55;
            case "cross": {
                double w = r * 0.32;
                return (Math.abs(dx) <= w && Math.abs(dy) <= r) || (Math.abs(dy) <= w && Math.abs(dx) <= r);
            }
            case "triangle": {
                double cy2 = cy + r * 0.15;
                double ax = cx;
                double ay = cy2 - r;
                double bx = cx - r * 0.866;
                double by = cy2 + r * 0.5;
                double qx = cx + r * 0.866;
                double qy = cy2 + r * 0.5;
                double s1 = side(x, y, ax, ay, bx, by);
                double s2 = side(x, y, bx, by, qx, qy);
                double s3 = side(x, y, qx, qy, ax, ay);
                boolean neg = s1 < 0 || s2 < 0 || s3 < 0;
                boolean pos = s1 > 0 || s2 > 0 || s3 > 0;
                return !(neg && pos);
            }
            case "star": {
                double theta = Math.atan2(dx, -dy);
                double sector = Math.PI / 5;
                double t = floorMod(theta, 2 * sector) - sector;
                double ro = r;
                double ri = r * 0.45;
                double px1 = ri * Math.sin(sector);
                double py1 = ri * Math.cos(sector);
                double ux = Math.abs(d * Math.sin(t));
                double uy = d * Math.cos(t);
                double cross = (px1 - 0.0) * (uy - ro) - (py1 - ro) * (ux - 0.0);
                return cross <= 0;
            }
            default:
                throw new IllegalArgumentException("unknown shape " + shape);
        }
    }

    private static double side(double x, double y, double px, double py, double qx, double qy) {
        return (x - qx) * (py - qy) - (px - qx) * (y - qy);
    }

    /** numpy's mod: the result has the sign of the divisor. */
    private static double floorMod(double a, double m) {
        return a - Math.floor(a / m) * m;
    }
}
