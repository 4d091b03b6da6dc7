package dev.sdcfg.api;

import dev.sdcfg.pipeline.Img2ImgInput;
import dev.sdcfg.pipeline.InitImage;
import dev.sdcfg.pipeline.InvalidRequestException;

import java.util.Base64;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code init_image} and {@code strength} fields of a JSON request: the text form (base64 or a data URL) is
 * checked with the other fields (400), the image itself is decoded only once the request is otherwise well formed,
 * by {@link InitImage#decode} with the pixel limit, and what it refuses is a 422 naming the field.
 */
final class InitImageField {

    static final String FIELD = "init_image";
    /** diffusers' default strength for StableDiffusionImg2ImgPipeline. */
    static final double DEFAULT_STRENGTH = 0.8;
    private static final Pattern DATA_URL = Pattern.compile("data:([a-zA-Z0-9.+/-]*)(;[a-zA-Z0-9=.+-]*)*?;base64,");

    private InitImageField() {
    }

    /** The image bytes of the field (null when absent or with an error added). */
    static byte[] bytes(String value, Double strength, List<FieldError> errors) {
        if (value == null) {
            if (strength != null) {
                errors.add(new FieldError("strength", "only with init_image"));
            }
            return null;
        }
        if (strength != null && !(strength >= 0 && strength <= 1)) {
            errors.add(new FieldError("strength", "must be between 0 and 1"));
        }
        String b64 = value;
        if (value.startsWith("data:")) {
            Matcher m = DATA_URL.matcher(value);
            if (!m.lookingAt()) {
                errors.add(new FieldError(FIELD, "a data URL must be data:<type>;base64,<data>"));
                return null;
            }
            b64 = value.substring(m.end());
        }
        try {
            byte[] data = Base64.getMimeDecoder().decode(b64);
            if (data.length == 0) {
                errors.add(new FieldError(FIELD, "is empty"));
                return null;
            }
            return data;
        } catch (IllegalArgumentException e) {
            errors.add(new FieldError(FIELD, "must be base64 (or a data URL): " + e.getMessage()));
            return null;
        }
    }

    /** The decoded image and strength; decoding refusals are 422 naming {@code field}. */
    static Img2ImgInput decode(byte[] data, Double strength, String field, long maxPixels) {
        try {
            return new Img2ImgInput(InitImage.decode(data, field, maxPixels),
                    strength == null ? DEFAULT_STRENGTH : strength);
        } catch (InvalidRequestException e) {
            throw ProblemException.unprocessable(e.field(), e.getMessage());
        }
    }
}
