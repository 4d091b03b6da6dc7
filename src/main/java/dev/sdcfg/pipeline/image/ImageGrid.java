package dev.sdcfg.pipeline.image;

import java.awt.image.BufferedImage;
import java.util.ArrayList;
import java.util.List;

/**
 * Lays images out in a grid with a title above each one (the notebook's comparison figure), drawn with
 * {@link BitmapFont} so that no system font is needed. JDK only.
 *
 * <p>Every cell is as large as the largest image; smaller images are centred. Titles are wrapped at character
 * boundaries to the cell width (at most {@link #MAX_TITLE_LINES} lines, the last one cut with "..."); the font
 * scale grows with the cell width (1 below 256 px, 2 below 768 px, else 3).
 */
public final class ImageGrid {

    public static final int MAX_TITLE_LINES = 3;
    static final int BACKGROUND = 0xFFFFFF;
    static final int TEXT = 0x000000;
    static final int GAP = 4;

    static {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    private ImageGrid() {
    }

    /**
     * @param images  at least one image
     * @param titles  one title per image (null, or shorter than {@code images}: the rest have no title)
     * @param columns images per row, at least 1 (more columns than images are reduced to the image count)
     */
    public static BufferedImage compose(List<BufferedImage> images, List<String> titles, int columns) {
        if (images == null || images.isEmpty()) {
            throw new IllegalArgumentException("a grid needs at least one image");
        }
        if (columns < 1) {
            throw new IllegalArgumentException("columns must be >= 1: " + columns);
        }
        int cols = Math.min(columns, images.size());
        int rows = (images.size() + cols - 1) / cols;
        int cellW = 0;
        int cellH = 0;
        for (BufferedImage img : images) {
            cellW = Math.max(cellW, img.getWidth());
            cellH = Math.max(cellH, img.getHeight());
        }
        int scale = scaleFor(cellW);
        int charsPerLine = Math.max(1, (cellW - 2) / (BitmapFont.CELL_WIDTH * scale));
        List<List<String>> wrapped = new ArrayList<>();
        int titleLines = 0;
        for (int i = 0; i < images.size(); i++) {
            String t = titles != null && i < titles.size() ? titles.get(i) : null;
            List<String> lines = wrap(t == null ? "" : t, charsPerLine, MAX_TITLE_LINES);
            wrapped.add(lines);
            titleLines = Math.max(titleLines, lines.size());
        }
        int titleH = titleLines == 0 ? 0 : titleLines * BitmapFont.lineHeight(scale) + 2 * scale;
        int width = cols * cellW + (cols + 1) * GAP;
        int height = rows * (titleH + cellH) + (rows + 1) * GAP;
        BufferedImage out = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        int[] bg = new int[width];
        java.util.Arrays.fill(bg, BACKGROUND);
        for (int y = 0; y < height; y++) {
            out.setRGB(0, y, width, 1, bg, 0, width);
        }
        for (int i = 0; i < images.size(); i++) {
            int col = i % cols;
            int row = i / cols;
            int x0 = GAP + col * (cellW + GAP);
            int y0 = GAP + row * (titleH + cellH + GAP);
            List<String> lines = wrapped.get(i);
            for (int l = 0; l < lines.size(); l++) {
                String line = lines.get(l);
                int tx = x0 + Math.max(0, (cellW - BitmapFont.width(line, scale)) / 2);
                BitmapFont.draw(out, line, tx, y0 + scale + l * BitmapFont.lineHeight(scale), scale, TEXT);
            }
            BufferedImage img = images.get(i);
            int ix = x0 + (cellW - img.getWidth()) / 2;
            int iy = y0 + titleH + (cellH - img.getHeight()) / 2;
            int w = img.getWidth();
            int[] row32 = new int[w];
            for (int y = 0; y < img.getHeight(); y++) {
                img.getRGB(0, y, w, 1, row32, 0, w);
                out.setRGB(ix, iy + y, w, 1, row32, 0, w);
            }
        }
        return out;
    }

    static int scaleFor(int cellWidth) {
        return cellWidth < 256 ? 1 : cellWidth < 768 ? 2 : 3;
    }

    /** Splits {@code text} into lines of at most {@code width} characters, preferring breaks after spaces. */
    static List<String> wrap(String text, int width, int maxLines) {
        List<String> lines = new ArrayList<>();
        String rest = text.strip();
        while (!rest.isEmpty()) {
            if (lines.size() == maxLines - 1 && rest.length() > width) {
                lines.add(width > 3 ? rest.substring(0, width - 3) + "..." : rest.substring(0, width));
                return lines;
            }
            if (rest.length() <= width) {
                lines.add(rest);
                break;
            }
            int cut = rest.lastIndexOf(' ', width);
            if (cut <= 0) {
                cut = width;
            }
            lines.add(rest.substring(0, cut).stripTrailing());
            rest = rest.substring(cut).strip();
        }
        return lines;
    }
}
