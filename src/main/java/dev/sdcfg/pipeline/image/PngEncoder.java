package dev.sdcfg.pipeline.image;

import org.w3c.dom.Node;

import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.ImageTypeSpecifier;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.metadata.IIOInvalidTreeException;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.metadata.IIOMetadataNode;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;
import javax.imageio.stream.MemoryCacheImageOutputStream;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * PNG encoding with text metadata, JDK only (javax.imageio; no fonts, no display). Text entries go into
 * {@code tEXt} chunks when the value is Latin-1 (the PNG rule for tEXt) and into uncompressed {@code iTXt}
 * chunks (UTF-8) otherwise, so prompts in any script survive. {@link #readText} reads both back.
 */
public final class PngEncoder {

    private static final String PNG_FORMAT = "javax_imageio_png_1.0";

    static {
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
        ImageIO.setUseCache(false);
    }

    private PngEncoder() {
    }

    /** Encodes {@code image} (any type; converted to 8-bit RGB when it is not RGB already) with text chunks. */
    public static byte[] encode(BufferedImage image, Map<String, String> textChunks) {
        BufferedImage rgb = toRgb(image);
        ImageWriter writer = pngWriter();
        try {
            ImageWriteParam param = writer.getDefaultWriteParam();
            IIOMetadata meta = writer.getDefaultImageMetadata(ImageTypeSpecifier.createFromRenderedImage(rgb), param);
            if (textChunks != null && !textChunks.isEmpty()) {
                meta.mergeTree(PNG_FORMAT, textTree(textChunks));
            }
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(rgb.getWidth() * rgb.getHeight() + 1024);
            try (MemoryCacheImageOutputStream out = new MemoryCacheImageOutputStream(bytes)) {
                writer.setOutput(out);
                writer.write(null, new IIOImage(rgb, null, meta), param);
            }
            return bytes.toByteArray();
        } catch (IIOInvalidTreeException e) {
            throw new IllegalArgumentException("invalid PNG text metadata: " + e.getMessage(), e);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            writer.dispose();
        }
    }

    /**
     * Encodes packed pixels: {@code rgb[y * width + x] = 0xRRGGBB} (higher bits ignored), row-major.
     */
    public static byte[] encode(int[] rgb, int width, int height, Map<String, String> textChunks) {
        checkSize(rgb == null ? -1 : rgb.length, width, height, 1);
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        img.setRGB(0, 0, width, height, rgb, 0, width);
        return encode(img, textChunks);
    }

    /** Encodes interleaved 8-bit RGB: {@code rgb[3 * (y * width + x) + c]}, c = 0 red, 1 green, 2 blue. */
    public static byte[] encodeRgb(byte[] rgb, int width, int height, Map<String, String> textChunks) {
        checkSize(rgb == null ? -1 : rgb.length, width, height, 3);
        int[] packed = new int[width * height];
        for (int i = 0, j = 0; i < packed.length; i++, j += 3) {
            packed[i] = (rgb[j] & 0xFF) << 16 | (rgb[j + 1] & 0xFF) << 8 | (rgb[j + 2] & 0xFF);
        }
        return encode(packed, width, height, textChunks);
    }

    /** Decodes PNG bytes (or any format ImageIO reads). */
    public static BufferedImage decode(byte[] png) {
        try {
            BufferedImage img = ImageIO.read(new ByteArrayInputStream(png));
            if (img == null) {
                throw new IllegalArgumentException("not an image ImageIO can read");
            }
            return img;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The tEXt, zTXt and iTXt entries of a PNG, keyword → text, in file order. */
    public static Map<String, String> readText(byte[] png) {
        Iterator<ImageReader> readers = ImageIO.getImageReadersByFormatName("png");
        if (!readers.hasNext()) {
            throw new IllegalStateException("no PNG reader in this JDK");
        }
        ImageReader reader = readers.next();
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(png))) {
            reader.setInput(in, true, false);
            IIOMetadata meta = reader.getImageMetadata(0);
            Map<String, String> out = new LinkedHashMap<>();
            Node root = meta.getAsTree(PNG_FORMAT);
            for (Node chunk = root.getFirstChild(); chunk != null; chunk = chunk.getNextSibling()) {
                String name = chunk.getNodeName();
                if (!name.equals("tEXt") && !name.equals("iTXt") && !name.equals("zTXt")) {
                    continue;
                }
                for (Node e = chunk.getFirstChild(); e != null; e = e.getNextSibling()) {
                    IIOMetadataNode entry = (IIOMetadataNode) e;
                    String key = entry.getAttribute("keyword");
                    String value = name.equals("iTXt") ? entry.getAttribute("text")
                            : name.equals("zTXt") ? entry.getAttribute("text") : entry.getAttribute("value");
                    out.put(key, value);
                }
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            reader.dispose();
        }
    }

    private static IIOMetadataNode textTree(Map<String, String> textChunks) {
        IIOMetadataNode root = new IIOMetadataNode(PNG_FORMAT);
        IIOMetadataNode text = new IIOMetadataNode("tEXt");
        IIOMetadataNode itext = new IIOMetadataNode("iTXt");
        for (Map.Entry<String, String> kv : textChunks.entrySet()) {
            String key = kv.getKey();
            checkKeyword(key);
            String value = kv.getValue() == null ? "" : kv.getValue();
            if (isLatin1(value)) {
                IIOMetadataNode entry = new IIOMetadataNode("tEXtEntry");
                entry.setAttribute("keyword", key);
                entry.setAttribute("value", value);
                text.appendChild(entry);
            } else {
                IIOMetadataNode entry = new IIOMetadataNode("iTXtEntry");
                entry.setAttribute("keyword", key);
                entry.setAttribute("compressionFlag", "FALSE");
                entry.setAttribute("compressionMethod", "0");
                entry.setAttribute("languageTag", "");
                entry.setAttribute("translatedKeyword", "");
                entry.setAttribute("text", value);
                itext.appendChild(entry);
            }
        }
        if (text.hasChildNodes()) {
            root.appendChild(text);
        }
        if (itext.hasChildNodes()) {
            root.appendChild(itext);
        }
        return root;
    }

    /** PNG keywords: 1-79 printable Latin-1 characters, no leading, trailing or double spaces. */
    static void checkKeyword(String key) {
        if (key == null || key.isEmpty() || key.length() > 79) {
            throw new IllegalArgumentException("PNG text keyword must have 1 to 79 characters: '" + key + "'");
        }
        if (key.startsWith(" ") || key.endsWith(" ") || key.contains("  ")) {
            throw new IllegalArgumentException("PNG text keyword has leading, trailing or double spaces: '" + key + "'");
        }
        for (int i = 0; i < key.length(); i++) {
            char c = key.charAt(i);
            if (!(c >= 32 && c <= 126 || c >= 161 && c <= 255)) {
                throw new IllegalArgumentException("PNG text keyword must be printable Latin-1: '" + key + "'");
            }
        }
    }

    private static boolean isLatin1(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == 0 || c > 255) {
                return false;
            }
        }
        // round-trip check keeps us honest about what a tEXt chunk can store
        return new String(s.getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.ISO_8859_1).equals(s);
    }

    private static BufferedImage toRgb(BufferedImage image) {
        int t = image.getType();
        if (t == BufferedImage.TYPE_INT_RGB || t == BufferedImage.TYPE_3BYTE_BGR) {
            return image;
        }
        BufferedImage rgb = new BufferedImage(image.getWidth(), image.getHeight(), BufferedImage.TYPE_INT_RGB);
        int w = image.getWidth();
        int[] row = new int[w];
        for (int y = 0; y < image.getHeight(); y++) {
            image.getRGB(0, y, w, 1, row, 0, w);
            rgb.setRGB(0, y, w, 1, row, 0, w);
        }
        return rgb;
    }

    private static ImageWriter pngWriter() {
        Iterator<ImageWriter> it = ImageIO.getImageWritersByFormatName("png");
        if (!it.hasNext()) {
            throw new IllegalStateException("no PNG writer in this JDK");
        }
        return it.next();
    }

    private static void checkSize(int length, int width, int height, int channels) {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("image size must be positive: " + width + "x" + height);
        }
        if (length != (long) width * height * channels) {
            throw new IllegalArgumentException("pixel array has " + length + " entries, expected "
                    + ((long) width * height * channels) + " for " + width + "x" + height + "x" + channels);
        }
    }
}
