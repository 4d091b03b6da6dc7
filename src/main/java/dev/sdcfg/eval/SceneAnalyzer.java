package dev.sdcfg.eval;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Reads a demo-model image back into the attributes its prompt asks for: background colour(s), and each object's
 * colour, shape, size and position. Deterministic image analysis, no model: the demo world (tools/demo-model/scenes.py)
 * is flat colours and six geometric shapes, so nearest named colours, connected components and template matching
 * against the renderer's own shape definitions (ported in {@link SceneVocabulary#inside}) suffice.
 *
 * <p>Steps: the image is resampled to 64×64 (area average); the background is the majority colour of the left and of
 * the right half of a 2-pixel frame (two different majorities = a two-colour background, split at x = 32); a pixel is
 * foreground when its nearest named colour differs from the background there and it is far from the background
 * colour; 4-connected components of at least {@link #MIN_AREA} pixels are objects, largest first (at most two); an
 * object's colour is the majority of its confidently named pixels, its shape the best intersection-over-union of its
 * bounding-box-normalised mask with each shape's template, its size from its extent relative to that shape's
 * template, its position the nearest position centre to its bounding-box centre.
 */
public final class SceneAnalyzer {

    static final int N = SceneVocabulary.SIZE;
    /** Fewer pixels than this is noise, not an object (a small circle covers ~250). */
    static final int MIN_AREA = 24;
    /** A pixel this close (RGB distance) to the background colour is background whatever its nearest name. */
    static final double BACKGROUND_RADIUS = 70;
    /** A pixel counts towards an object's colour vote only this close to a named colour (edges blend two colours). */
    static final double CONFIDENT_RADIUS = 80;
    static final int GRID = 20;

    private static final List<double[]> TEMPLATES = new ArrayList<>();
    private static final double[] TEMPLATE_EXTENT = new double[SceneVocabulary.SHAPES.size()];

    static {
        double r = 15;
        for (int s = 0; s < SceneVocabulary.SHAPES.size(); s++) {
            String shape = SceneVocabulary.SHAPES.get(s);
            boolean[] m = new boolean[N * N];
            for (int y = 0; y < N * 4; y++) {
                for (int x = 0; x < N * 4; x++) {
                    // 4x supersampled, thresholded at half coverage below
                    if (SceneVocabulary.inside(shape, (x + 0.5) / 4, (y + 0.5) / 4, 32, 32, r)) {
                        m[(y / 4) * N + x / 4] = true;
                    }
                }
            }
            int[] box = box(m, null, 0);
            TEMPLATES.add(normalise(m, null, 0, box));
            TEMPLATE_EXTENT[s] = Math.max(box[2] - box[0] + 1, box[3] - box[1] + 1) / r;
        }
    }

    /** One object found in an image. */
    public record Thing(String color, String shape, String size, String position, int area) {
    }

    /** What an image shows: the background colour(s) (left half first when two) and the objects, largest first. */
    public record Reading(List<String> background, List<Thing> objects) {
    }

    private SceneAnalyzer() {
    }

    public static Reading read(BufferedImage image) {
        int[] rgb = resample(image);
        int[] name = new int[N * N];
        double[] dist = new double[N * N];
        for (int i = 0; i < N * N; i++) {
            name[i] = SceneVocabulary.nearest(rgb[i]);
            dist[i] = SceneVocabulary.distance(rgb[i], name[i]);
        }
        int left = frameMajority(name, 0, N / 2);
        int right = frameMajority(name, N / 2, N);
        List<String> background = left == right
                ? List.of(SceneVocabulary.COLOR_NAMES.get(left))
                : List.of(SceneVocabulary.COLOR_NAMES.get(left), SceneVocabulary.COLOR_NAMES.get(right));
        boolean[] fg = new boolean[N * N];
        for (int y = 0; y < N; y++) {
            for (int x = 0; x < N; x++) {
                int i = y * N + x;
                int bg = x < N / 2 ? left : right;
                fg[i] = name[i] != bg && SceneVocabulary.distance(rgb[i], bg) > BACKGROUND_RADIUS;
            }
        }
        int[] label = new int[N * N];
        List<int[]> components = components(fg, label);
        components.sort(Comparator.comparingInt((int[] c) -> c[1]).reversed());
        List<Thing> things = new ArrayList<>();
        for (int[] c : components) {
            if (c[1] < MIN_AREA || things.size() == 2) {
                break;
            }
            things.add(describe(c[0], c[1], label, name, dist));
        }
        return new Reading(background, things);
    }

    private static Thing describe(int id, int area, int[] label, int[] name, double[] dist) {
        int[] votes = new int[SceneVocabulary.COLOR_NAMES.size()];
        for (int i = 0; i < N * N; i++) {
            if (label[i] == id && dist[i] < CONFIDENT_RADIUS) {
                votes[name[i]]++;
            }
        }
        String color = SceneVocabulary.COLOR_NAMES.get(argmax(votes));
        int[] box = box(null, label, id);
        double[] mask = normalise(null, label, id, box);
        int best = 0;
        double bestIou = -1;
        for (int s = 0; s < TEMPLATES.size(); s++) {
            double iou = iou(mask, TEMPLATES.get(s));
            if (iou > bestIou) {
                bestIou = iou;
                best = s;
            }
        }
        double extent = Math.max(box[2] - box[0] + 1, box[3] - box[1] + 1);
        double radius = extent / TEMPLATE_EXTENT[best];
        String size = SceneVocabulary.nearestSize(radius);
        String position = SceneVocabulary.nearestPosition((box[0] + box[2] + 1) / 2.0, (box[1] + box[3] + 1) / 2.0);
        return new Thing(color, SceneVocabulary.SHAPES.get(best), size, position, area);
    }

    /** Area-average resampling to 64×64 (identity for 64×64 input). */
    static int[] resample(BufferedImage img) {
        int w = img.getWidth();
        int h = img.getHeight();
        int[] out = new int[N * N];
        for (int y = 0; y < N; y++) {
            for (int x = 0; x < N; x++) {
                int x0 = x * w / N;
                int x1 = Math.max(x0 + 1, (x + 1) * w / N);
                int y0 = y * h / N;
                int y1 = Math.max(y0 + 1, (y + 1) * h / N);
                long r = 0;
                long g = 0;
                long b = 0;
                for (int yy = y0; yy < y1; yy++) {
                    for (int xx = x0; xx < x1; xx++) {
                        int p = img.getRGB(xx, yy);
                        r += (p >> 16) & 255;
                        g += (p >> 8) & 255;
                        b += p & 255;
                    }
                }
                long n = (long) (x1 - x0) * (y1 - y0);
                out[y * N + x] = (int) ((r / n) << 16 | (g / n) << 8 | (b / n));
            }
        }
        return out;
    }

    private static int frameMajority(int[] name, int xFrom, int xTo) {
        int[] votes = new int[SceneVocabulary.COLOR_NAMES.size()];
        for (int y = 0; y < N; y++) {
            for (int x = xFrom; x < xTo; x++) {
                if (y < 2 || y >= N - 2 || x < 2 || x >= N - 2) {
                    votes[name[y * N + x]]++;
                }
            }
        }
        return argmax(votes);
    }

    /** 4-connected components of {@code mask}; returns {id, area} per component and fills {@code label}. */
    private static List<int[]> components(boolean[] mask, int[] label) {
        List<int[]> out = new ArrayList<>();
        int[] stack = new int[N * N];
        int next = 1;
        for (int start = 0; start < N * N; start++) {
            if (!mask[start] || label[start] != 0) {
                continue;
            }
            int area = 0;
            int top = 0;
            stack[top++] = start;
            label[start] = next;
            while (top > 0) {
                int i = stack[--top];
                area++;
                int x = i % N;
                int y = i / N;
                int[] nb = {x > 0 ? i - 1 : -1, x < N - 1 ? i + 1 : -1, y > 0 ? i - N : -1, y < N - 1 ? i + N : -1};
                for (int j : nb) {
                    if (j >= 0 && mask[j] && label[j] == 0) {
                        label[j] = next;
                        stack[top++] = j;
                    }
                }
            }
            out.add(new int[] {next, area});
            next++;
        }
        return out;
    }

    /** Bounding box {x0, y0, x1, y1} (inclusive) of a boolean mask, or of the pixels labelled {@code id}. */
    private static int[] box(boolean[] mask, int[] label, int id) {
        int[] b = {N, N, -1, -1};
        for (int i = 0; i < N * N; i++) {
            if (mask != null ? mask[i] : label[i] == id) {
                int x = i % N;
                int y = i / N;
                b[0] = Math.min(b[0], x);
                b[1] = Math.min(b[1], y);
                b[2] = Math.max(b[2], x);
                b[3] = Math.max(b[3], y);
            }
        }
        return b;
    }

    /** The mask inside its bounding box, resampled (nearest) onto a GRID×GRID square. */
    private static double[] normalise(boolean[] mask, int[] label, int id, int[] b) {
        double[] out = new double[GRID * GRID];
        double w = b[2] - b[0] + 1;
        double h = b[3] - b[1] + 1;
        for (int gy = 0; gy < GRID; gy++) {
            for (int gx = 0; gx < GRID; gx++) {
                int x = b[0] + (int) Math.floor((gx + 0.5) * w / GRID);
                int y = b[1] + (int) Math.floor((gy + 0.5) * h / GRID);
                int i = y * N + x;
                out[gy * GRID + gx] = (mask != null ? mask[i] : label[i] == id) ? 1 : 0;
            }
        }
        return out;
    }

    private static double iou(double[] a, double[] b) {
        double inter = 0;
        double union = 0;
        for (int i = 0; i < a.length; i++) {
            inter += Math.min(a[i], b[i]);
            union += Math.max(a[i], b[i]);
        }
        return union == 0 ? 0 : inter / union;
    }

    private static int argmax(int[] v) {
        int best = 0;
        for (int i = 1; i < v.length; i++) {
            if (v[i] > v[best]) {
                best = i;
            }
        }
        return best;
    }
}
