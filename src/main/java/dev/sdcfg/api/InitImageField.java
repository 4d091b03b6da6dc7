package dev.sdcfg.api;

import dev.sdcfg.pipeline.Img2ImgInput;
import dev.sdcfg.pipeline.MaskedContent;
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

    static final String FIELD = "init_image";
    /** diffusers' default strength for StableDiffusionImg2ImgPipeline. */
    static final double DEFAULT_STRENGTH = 0.8;
    /** StableDiffusionInpaintPipeline's default strength: start from pure noise. */
    static final double DEFAULT_INPAINT_STRENGTH = 1.0;
    static final String MASK = "mask";
    static final String MASK_BLUR = "mask_blur";
    static final String FULL_RES = "inpaint_full_res";
    static final String FULL_RES_PADDING = "inpaint_full_res_padding";
    static final String MASKED_CONTENT = "masked_content";
    /** A1111's default padding for "only masked" inpainting. */
    static final int DEFAULT_FULL_RES_PADDING = 32;
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

    /**
     * strength and mask only come with init_image, mask_blur and inpaint_full_res only with a mask,
     * inpaint_full_res_padding only with inpaint_full_res, masked_content only with a mask; strength within 0..1.
     */
    static void checkCompanions(String initImage, Double strength, String mask, Integer maskBlur,
                                Boolean fullRes, Integer fullResPadding, String maskedContent,
                                List<FieldError> errors) {
        if (maskedContent != null && mask == null) {
            errors.add(new FieldError(MASKED_CONTENT, "only with mask"));
        } else if (maskedContent != null && MaskedContent.of(maskedContent) == null) {
            errors.add(new FieldError(MASKED_CONTENT, "must be original, fill, latent_noise or latent_nothing"));
        }
        if (fullRes != null && fullRes && mask == null) {
            errors.add(new FieldError(FULL_RES, "only with mask"));
        }
        if (fullResPadding != null && (fullRes == null || !fullRes)) {
            errors.add(new FieldError(FULL_RES_PADDING, "only with inpaint_full_res true"));
        } else if (fullResPadding != null && (fullResPadding < 0
                || fullResPadding > Img2ImgInput.MAX_FULL_RES_PADDING)) {
            errors.add(new FieldError(FULL_RES_PADDING, "must be between 0 and " + Img2ImgInput.MAX_FULL_RES_PADDING));
        }
        if (maskBlur != null && mask == null) {
            errors.add(new FieldError(MASK_BLUR, "only with mask"));
        } else if (maskBlur != null && (maskBlur < 0 || maskBlur > Img2ImgInput.MAX_MASK_BLUR)) {
            errors.add(new FieldError(MASK_BLUR, "must be between 0 and " + Img2ImgInput.MAX_MASK_BLUR));
        }
        if (initImage == null) {
            if (strength != null) {
                errors.add(new FieldError("strength", "only with init_image"));
            }
            if (mask != null) {
                errors.add(new FieldError(MASK, "only with init_image"));
            }
        } else if (strength != null && !(strength >= 0 && strength <= 1)) {
            errors.add(new FieldError("strength", "must be between 0 and 1"));
        }
    }

    /**
     * The decoded image, mask (may be null) and strength (default 0.8, or 1 with a mask, as diffusers' img2img and
     * inpaint pipelines); decoding refusals are 422 naming the field.
     */
    static Img2ImgInput decode(byte[] image, byte[] mask, Double strength, Integer maskBlur, Boolean fullRes,
                               Integer fullResPadding, String maskedContent, long maxPixels) {
        try {
            InitImage m = mask == null ? null : InitImage.decode(mask, MASK, maxPixels);
            double s = strength != null ? strength : mask != null ? DEFAULT_INPAINT_STRENGTH : DEFAULT_STRENGTH;
            int padding = fullRes == null || !fullRes ? Img2ImgInput.FULL_RES_OFF
                    : fullResPadding == null ? DEFAULT_FULL_RES_PADDING : fullResPadding;
            return new Img2ImgInput(InitImage.decode(image, FIELD, maxPixels), s, m, maskBlur == null ? 0 : maskBlur,
                    padding, MaskedContent.of(maskedContent));
        } catch (InvalidRequestException e) {
            throw ProblemException.unprocessable(e.field(), e.getMessage());
        }
    }
}
