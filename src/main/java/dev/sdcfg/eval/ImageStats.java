package dev.sdcfg.eval;

import java.awt.image.BufferedImage;
import java.util.List;

/** Colour and diversity statistics of generated images, for the guidance evaluation. */
final class ImageStats {

    private ImageStats() {
    }

    /**
     * {mean HSV saturation (0..1), share of 8-bit channel values at 0 or 255}: over-guided images drift to saturated,
     * clipped colours (the notebook's over-saturation at high CFG).
     */
    static double[] colour(BufferedImage img) {
        double sat = 0;
        long clipped = 0;
        int w = img.getWidth();
        int h = img.getHeight();
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int p = img.getRGB(x, y);
                int r = (p >> 16) & 255;
                int g = (p >> 8) & 255;
                int b = p & 255;
                int max = Math.max(r, Math.max(g, b));
                int min = Math.min(r, Math.min(g, b));
                sat += max == 0 ? 0 : (max - min) / (double) max;
                clipped += (r == 0 || r == 255 ? 1 : 0) + (g == 0 || g == 255 ? 1 : 0) + (b == 0 || b == 255 ? 1 : 0);
            }
        }
        return new double[] {sat / ((double) w * h), clipped / (3.0 * w * h)};
    }

    /** Mean over image pairs of the RMS difference of their 8-bit channels, scaled to 0..1 (0: identical images). */
    static double meanPairwiseRms(List<BufferedImage> images) {
        double sum = 0;
        int pairs = 0;
        for (int i = 0; i < images.size(); i++) {
            for (int j = i + 1; j < images.size(); j++) {
                sum += rms(images.get(i), images.get(j));
                pairs++;
            }
        }
        return pairs == 0 ? 0 : sum / pairs;
    }

    static double rms(BufferedImage a, BufferedImage b) {
        if (a.getWidth() != b.getWidth() || a.getHeight() != b.getHeight()) {
            throw new IllegalArgumentException("images of different sizes");
        }
        double s = 0;
        for (int y = 0; y < a.getHeight(); y++) {
            for (int x = 0; x < a.getWidth(); x++) {
                int p = a.getRGB(x, y);
                int q = b.getRGB(x, y);
                for (int sh = 0; sh <= 16; sh += 8) {
                    double d = (((p >> sh) & 255) - ((q >> sh) & 255)) / 255.0;
                    s += d * d;
                }
            }
        }
        return Math.sqrt(s / (3.0 * a.getWidth() * a.getHeight()));
    }
}
