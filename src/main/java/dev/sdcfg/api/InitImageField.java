package dev.sdcfg.api;

import dev.sdcfg.pipeline.Img2ImgInput;
import dev.sdcfg.pipeline.InitImage;
import dev.sdcfg.pipeline.InvalidRequestException;

import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code init_image}, {@code mask} and {@code strength} fields of a JSON request: the text form (base64 or a
 * data URL) is checked with the other fields (400), the image itself is decoded only once the request is otherwise well formed,
 * by {@link InitImage#decode} with the pixel limit, and what it refuses is a 422 naming the field.
 */
final class InitImageField {

    static final String FIELD = Img2ImgInput.INIT_IMAGE;
    static final String MASK = Img2ImgInput.MASK;
    static final String MASK_BLUR = Img2ImgInput.MASK_BLUR;
    static final String FULL_RES = Img2ImgInput.FULL_RES;
    static final String FULL_RES_PADDING = Img2ImgInput.FULL_RES_PADDING;
    static final String MASKED_CONTENT = Img2ImgInput.MASKED_CONTENT;
    private static final Pattern DATA_URL = Pattern.compile("data:([a-zA-Z0-9.+/-]*)(;[a-zA-Z0-9=.+-]*)*?;base64,");

    private InitImageField() {
    }

    /** The image bytes of a base64 / data URL field (null when absent or with an error added). */
    static byte[] bytes(String field, String value, List<FieldError> errors) {
        if (value == null) {
            return null;
        }
        String b64 = value;
        if (value.startsWith("data:")) {
            Matcher m = DATA_URL.matcher(value);
            if (!m.lookingAt()) {
                errors.add(new FieldError(field, "a data URL must be data:<type>;base64,<data>"));
                return null;
            }
            b64 = value.substring(m.end());
        }
        try {
            byte[] data = Base64.getMimeDecoder().decode(b64);
            if (data.length == 0) {
                errors.add(new FieldError(field, "is empty"));
                return null;
            }
            return data;
        } catch (IllegalArgumentException e) {
            errors.add(new FieldError(field, "must be base64 (or a data URL): " + e.getMessage()));
            return null;
        }
    }

    /** {@link Img2ImgInput#checkFields}: the rules shared with the command line, as field errors. */
    static void checkCompanions(String initImage, Double strength, String mask, Integer maskBlur,
                                Boolean fullRes, Integer fullResPadding, String maskedContent,
                                List<FieldError> errors) {
        Img2ImgInput.checkFields(initImage != null, strength, mask != null, maskBlur, fullRes, fullResPadding,
                maskedContent, (field, rule) -> errors.add(new FieldError(field, rule)));
    }

    /**
     * The decoded image, mask (may be null) and strength (default 0.8, or 1 with a mask, as diffusers' img2img and
     * inpaint pipelines); decoding refusals are 422 naming the field.
     */
    static Img2ImgInput decode(byte[] image, byte[] mask, Double strength, Integer maskBlur, Boolean fullRes,
                               Integer fullResPadding, String maskedContent, long maxPixels) {
        try {
            InitImage m = mask == null ? null : InitImage.decode(mask, MASK, maxPixels);
            return Img2ImgInput.withDefaults(InitImage.decode(image, FIELD, maxPixels), m, strength, maskBlur,
                    fullRes, fullResPadding, maskedContent);
        } catch (InvalidRequestException e) {
            throw ProblemException.unprocessable(e.field(), e.getMessage());
        }
    }
}
