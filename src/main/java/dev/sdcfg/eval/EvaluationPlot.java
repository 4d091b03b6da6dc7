package dev.sdcfg.eval;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.util.List;
import java.util.Locale;

/**
 * The guidance evaluation's figure, drawn with Java2D (no plotting library on the engine's classpath): two panels,
 * "all asked attributes right" and "mean saturation", each against the strength (the k-th of
 * {@link GuidanceEvaluation#strengths}, ticks naming g for CFG-like normalizers | for tnorm/fullnorm) with one line
 * per normalizer, constant schedule.
 */
final class EvaluationPlot {

    static final Color[] PALETTE = {new Color(31, 119, 180), new Color(255, 127, 14), new Color(44, 160, 44),
        new Color(214, 39, 40), new Color(148, 103, 189), new Color(140, 86, 75), new Color(227, 119, 194)};
    static final int W = 1000;
    static final int H = 420;

    private EvaluationPlot() {
    }

    static BufferedImage draw(List<GuidanceEvaluation.Row> rows) {
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_ANTIALIASING, RenderingHints.VALUE_ANTIALIAS_ON);
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, W, H);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        panel(g, rows, 60, "images with every asked attribute right", true);
        panel(g, rows, 560, "mean HSV saturation", false);
        int y = H - 30;
        for (int n = 0; n < GuidanceEvaluation.NORMALIZERS.size(); n++) {
            g.setColor(PALETTE[n % PALETTE.length]);
            g.fillRect(60 + n * 130, y, 14, 4);
            g.setColor(Color.BLACK);
            g.drawString(GuidanceEvaluation.NORMALIZERS.get(n), 80 + n * 130, y + 6);
        }
        g.dispose();
        return img;
    }

    private static void panel(Graphics2D g, List<GuidanceEvaluation.Row> rows, int x0, String title, boolean adherence) {
        int y0 = 40;
        int pw = 380;
        int ph = 300;
        g.setColor(Color.BLACK);
        g.drawString(title + " (constant schedule)", x0, y0 - 12);
        g.drawRect(x0, y0, pw, ph);
        for (int k = 0; k <= 4; k++) {
            int y = y0 + ph - k * ph / 4;
            g.setColor(new Color(230, 230, 230));
            g.drawLine(x0 + 1, y, x0 + pw - 1, y);
            g.setColor(Color.BLACK);
            g.drawString(String.format(Locale.ROOT, "%.2f", k / 4.0), x0 - 34, y + 4);
        }
        // every normalizer sweeps the same number of strengths; tnorm/fullnorm's are relative to ‖u‖, so each tick
        // names both scales
        double[] plain = GuidanceEvaluation.strengths("none");
        double[] relative = GuidanceEvaluation.strengths("tnorm");
        int ticks = plain.length;
        for (int s = 0; s < ticks; s++) {
            g.drawString(GuidanceEvaluation.num(plain[s]) + " | " + GuidanceEvaluation.num(relative[s]),
                    x0 + 4 + s * (pw - 40) / (ticks - 1), y0 + ph + 16);
        }
        g.setStroke(new BasicStroke(2f));
        for (int n = 0; n < GuidanceEvaluation.NORMALIZERS.size(); n++) {
            String name = GuidanceEvaluation.NORMALIZERS.get(n);
            double[] strengths = GuidanceEvaluation.strengths(name);
            int prevX = -1;
            int prevY = -1;
            g.setColor(PALETTE[n % PALETTE.length]);
            for (int s = 0; s < strengths.length; s++) {
                GuidanceEvaluation.Row r = find(rows, name, strengths[s]);
                if (r == null) {
                    continue;
                }
                double v = adherence ? r.allRight() : r.saturation();
                int x = x0 + 20 + s * (pw - 40) / (strengths.length - 1);
                int y = y0 + ph - (int) Math.round(Math.max(0, Math.min(1, v)) * ph);
                g.fillOval(x - 3, y - 3, 6, 6);
                if (prevX >= 0) {
                    g.drawLine(prevX, prevY, x, y);
                }
                prevX = x;
                prevY = y;
            }
        }
        g.setStroke(new BasicStroke(1f));
    }

    private static GuidanceEvaluation.Row find(List<GuidanceEvaluation.Row> rows, String normalizer, double g) {
        for (GuidanceEvaluation.Row r : rows) {
            if (r.normalizer().equals(normalizer) && r.schedule().equals("constant") && r.strength() == g) {
                return r;
            }
        }
        return null;
    }
}
