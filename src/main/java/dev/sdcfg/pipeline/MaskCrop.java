package dev.sdcfg.pipeline;

import dev.sdcfg.pipeline.image.PilResample;

/**
 * Inpainting "only masked" (A1111's {@code inpaint_full_res}) as diffusers does it with {@code padding_mask_crop}
 * (StableDiffusionInpaintPipeline, VaeImageProcessor in image_processor.py): the mask's bounding box, grown by the
 * padding and widened to the output's aspect ratio ({@code get_crop_region}), is cut from image and mask and resized
 * to the full output size ({@code preprocess(crops_coords, resize_mode="fill")}); the model inpaints that; the result
 * is resized back to the box ({@code resize_mode="crop"}) and composited over the original image through the
 * inverted mask ({@code apply_overlay}), so a blurred mask feathers the seam.
 *
 * <p>Every step is PIL's 8-bit arithmetic, reproduced exactly: LANCZOS resizes ({@link PilResample}; the edge rows
 * and columns of the "fill" resize are BICUBIC stretches of an empty box), {@code paste} with an L mask
 * ({@code BLEND}: {@code (a·(255 − m) + b·m + 128)} divided by 255 with PIL's shift rounding), RGBa → RGBA
 * ({@code 255·c / α} truncated), and {@code alpha_composite} (7 extra bits of precision). Images are row-major RGB
 * bytes.
 *
 * @param x1 left edge of the box (inclusive)
 * @param y1 top edge (inclusive)
 * @param x2 right edge (exclusive)
 * @param y2 bottom edge (exclusive)
 */
record MaskCrop(int x1, int y1, int x2, int y2) {

    int width() {
        return x2 - x1;
    }

    int height() {
        return y2 - y1;
    }

    /**
     * {@code VaeImageProcessor.get_crop_region(mask, width, height, pad)}: the columns and rows where the mask's grey
     * ({@code convert("L")}) is not 0, grown by {@code pad} within the image, then grown (and shifted back inside the
     * image) to the aspect ratio {@code width : height}. The arithmetic is Python's: true division, {@code int()}
     * truncation and floor division of the differences.
     */
    static MaskCrop of(InitImage mask, int width, int height, int pad) {
        int w = mask.width();
        int h = mask.height();
        int[] grey = Inpaint.grey(mask);
        int left = 0;
        while (left < w && columnEmpty(grey, w, h, left)) {
            left++;
        }
        int right = 0;
        while (right < w && columnEmpty(grey, w, h, w - 1 - right)) {
            right++;
        }
        int top = 0;
        while (top < h && rowEmpty(grey, w, top)) {
            top++;
        }
        int bottom = 0;
        while (bottom < h && rowEmpty(grey, w, h - 1 - bottom)) {
            bottom++;
        }
        int x1 = Math.max(left - pad, 0);
        int y1 = Math.max(top - pad, 0);
        int x2 = Math.min(w - right + pad, w);
        int y2 = Math.min(h - bottom + pad, h);
        double ratioCrop = (double) (x2 - x1) / (y2 - y1);
        double ratioProcessing = (double) width / height;
        if (ratioCrop > ratioProcessing) {
            double desiredHeight = (x2 - x1) / ratioProcessing;
            int diff = (int) (desiredHeight - (y2 - y1));
            y1 -= Math.floorDiv(diff, 2);
            y2 += diff - Math.floorDiv(diff, 2);
            if (y2 >= h) {
                int d = y2 - h;
                y2 -= d;
                y1 -= d;
            }
            if (y1 < 0) {
                y2 -= y1;
                y1 = 0;
            }
            if (y2 >= h) {
                y2 = h;
            }
        } else {
            double desiredWidth = (y2 - y1) * ratioProcessing;
            int diff = (int) (desiredWidth - (x2 - x1));
            x1 -= Math.floorDiv(diff, 2);
            x2 += diff - Math.floorDiv(diff, 2);
            if (x2 >= w) {
                int d = x2 - w;
                x2 -= d;
                x1 -= d;
            }
            if (x1 < 0) {
                x2 -= x1;
                x1 = 0;
            }
            if (x2 >= w) {
                x2 = w;
            }
        }
        return new MaskCrop(x1, y1, x2, y2);
    }

    /**
     * The request the model runs: image and (blurred) mask cut to the box and fill-resized to the request's size,
     * as diffusers' preprocess(crops_coords, resize_mode="fill") gives them to the pipeline.
     */
    GenerationRequest request(GenerationRequest r, InitImage effectiveMask) {
        Img2ImgInput in = r.img2img();
        return r.withImg2img(new Img2ImgInput(resizeAndFill(crop(in.image()), r.width(), r.height()), in.strength(),
                resizeAndFill(crop(effectiveMask), r.width(), r.height()), 0, Img2ImgInput.FULL_RES_OFF,
                in.maskedContent()));
    }

    /** Whether the mask's grey is 0 everywhere (get_crop_region has no box then). */
    static boolean isEmpty(InitImage mask) {
        for (int v : Inpaint.grey(mask)) {
            if (v != 0) {
                return false;
            }
        }
        return true;
    }

    /** The box cut from {@code image} ({@code Image.crop}). */
    InitImage crop(InitImage image) {
        int w = width();
        byte[] out = new byte[w * height() * 3];
        for (int y = 0; y < height(); y++) {
            System.arraycopy(image.rgb(), ((y + y1) * image.width() + x1) * 3, out, y * w * 3, w * 3);
        }
        return new InitImage(w, height(), out);
    }

    /**
     * VaeImageProcessor's {@code _resize_and_fill(image, width, height)}: resized with LANCZOS to fit inside
     * width×height keeping its aspect ratio (the side that fits exactly, the other {@code side · other // side}),
     * centred on black, and the bands left over filled by stretching the image's first and last rows (or columns)
     * with an empty box, as diffusers does (those two resizes name no filter, so PIL's default BICUBIC applies).
     */
    static InitImage resizeAndFill(InitImage image, int width, int height) {
        double ratio = (double) width / height;
        double srcRatio = (double) image.width() / image.height();
        int srcW = ratio < srcRatio ? width : image.width() * height / image.height();
        int srcH = ratio >= srcRatio ? height : image.height() * width / image.width();
        byte[] resized = PilResample.lanczos(image.rgb(), image.width(), image.height(), 3, srcW, srcH);
        byte[] res = new byte[width * height * 3];
        paste(res, width, height, resized, srcW, srcH, width / 2 - srcW / 2, height / 2 - srcH / 2);
        if (ratio < srcRatio) {
            int fillHeight = height / 2 - srcH / 2;
            if (fillHeight > 0) {
                byte[] top = stretch(resized, srcW, srcH, width, fillHeight, 0, 0, width, 0);
                paste(res, width, height, top, width, fillHeight, 0, 0);
                byte[] bottom = stretch(resized, srcW, srcH, width, fillHeight, 0, srcH, width, srcH);
                paste(res, width, height, bottom, width, fillHeight, 0, fillHeight + srcH);
            }
        } else if (ratio > srcRatio) {
            int fillWidth = width / 2 - srcW / 2;
            if (fillWidth > 0) {
                byte[] left = stretch(resized, srcW, srcH, fillWidth, height, 0, 0, 0, height);
                paste(res, width, height, left, fillWidth, height, 0, 0);
                byte[] right = stretch(resized, srcW, srcH, fillWidth, height, srcW, 0, srcW, height);
                paste(res, width, height, right, fillWidth, height, fillWidth + srcW, 0);
            }
        }
        return new InitImage(width, height, res);
    }

    /** {@code resized.resize((w, h), box=box)}: no filter named, so PIL's default, BICUBIC. */
    private static byte[] stretch(byte[] rgb, int srcW, int srcH, int w, int h, float x0, float y0, float x1,
                                  float y1) {
        return PilResample.resample(PilResample.Filter.BICUBIC, rgb, srcW, srcH, 3, w, h, x0, y0, x1, y1);
    }

    /**
     * VaeImageProcessor's {@code _resize_and_crop(image, width, height)}: resized with LANCZOS to cover
     * width×height keeping its aspect ratio, centred, the overhang cut off.
     */
    static byte[] resizeAndCrop(InitImage image, int width, int height) {
        double ratio = (double) width / height;
        double srcRatio = (double) image.width() / image.height();
        int srcW = ratio > srcRatio ? width : image.width() * height / image.height();
        int srcH = ratio <= srcRatio ? height : image.height() * width / image.width();
        byte[] resized = PilResample.lanczos(image.rgb(), image.width(), image.height(), 3, srcW, srcH);
        byte[] res = new byte[width * height * 3];
        paste(res, width, height, resized, srcW, srcH, width / 2 - srcW / 2, height / 2 - srcH / 2);
        return res;
    }

    /**
     * VaeImageProcessor's {@code apply_overlay(mask, init_image, image, crop_coords)}: the inpainted {@code image}
     * (the full output size) resized to the box ("crop" mode) and placed there on black, then {@code init_image}
     * composited over it with alpha {@code 255 − grey(mask)}: premultiplied by PIL's {@code paste} into a zero RGBa
     * image, un-premultiplied by {@code convert("RGBA")}, then {@code alpha_composite} over the opaque result.
     */
    byte[] overlay(InitImage mask, InitImage init, InitImage image) {
        int w = init.width();
        int h = init.height();
        byte[] inpainted = resizeAndCrop(image, width(), height());
        byte[] base = new byte[w * h * 3];
        paste(base, w, h, inpainted, width(), height(), x1, y1);
        int[] grey = Inpaint.grey(mask);
        byte[] out = new byte[w * h * 3];
        for (int i = 0; i < w * h; i++) {
            int alpha = 255 - grey[i]; // ImageOps.invert(mask.convert("L"))
            // paste(init RGBa, mask=alpha) into zeros: BLEND(alpha, 0, c) per band, the alpha band included
            int a = div255(255 * alpha);
            for (int c = 0; c < 3; c++) {
                int premultiplied = div255((init.rgb()[i * 3 + c] & 0xff) * alpha);
                // RGBa → RGBA (Convert.c rgba2rgbA): unchanged at alpha 0 and 255, else 255·c / α truncated, clipped
                int src = a == 0 || a == 255 ? premultiplied : Math.min(255, 255 * premultiplied / a);
                int dst = base[i * 3 + c] & 0xff;
                out[i * 3 + c] = (byte) (a == 0 ? dst : composite(src, dst, a));
            }
        }
        return out;
    }

    /**
     * AlphaComposite.c over an opaque destination: {@code coef1 = α·255·255·2⁷ / outα255}, {@code coef2 = 255·2⁷ −
     * coef1}, {@code (s·coef1 + d·coef2 + 2⁷·128)} divided by 255 (shift rounding), then {@code >> 7}.
     */
    private static int composite(int src, int dst, int alpha) {
        long blend = 255L * (255 - alpha); // dst alpha 255
        long outA255 = alpha * 255L + blend;
        long coef1 = alpha * 255L * 255L * (1 << 7) / outA255;
        long coef2 = 255L * (1 << 7) - coef1;
        long tmp = src * coef1 + dst * coef2 + (0x80L << 7);
        return (int) ((((tmp >> 8) + tmp) >> 8) >> 7);
    }

    /** PIL's DIV255: {@code (a + 128)} divided by 255 with {@code ((t >> 8) + t) >> 8}. */
    private static int div255(int a) {
        int t = a + 128;
        return ((t >> 8) + t) >> 8;
    }

    /** {@code Image.paste(src, (dx, dy))} of an opaque RGB image, clipped to the destination as ImagingPaste does. */
    private static void paste(byte[] dst, int dw, int dh, byte[] src, int sw, int sh, int dx, int dy) {
        int sx = 0;
        int sy = 0;
        int w = sw;
        int h = sh;
        if (dx < 0) {
            w += dx;
            sx = -dx;
            dx = 0;
        }
        if (dx + w > dw) {
            w = dw - dx;
        }
        if (dy < 0) {
            h += dy;
            sy = -dy;
            dy = 0;
        }
        if (dy + h > dh) {
            h = dh - dy;
        }
        for (int y = 0; y < h; y++) {
            if (w > 0) {
                System.arraycopy(src, ((y + sy) * sw + sx) * 3, dst, ((y + dy) * dw + dx) * 3, w * 3);
            }
        }
    }

    private static boolean columnEmpty(int[] grey, int w, int h, int x) {
        for (int y = 0; y < h; y++) {
            if (grey[y * w + x] != 0) {
                return false;
            }
        }
        return true;
    }

    private static boolean rowEmpty(int[] grey, int w, int y) {
        for (int x = 0; x < w; x++) {
            if (grey[y * w + x] != 0) {
                return false;
            }
        }
        return true;
    }
}
