package dev.sdcfg.pipeline.image;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * AUTOMATIC1111's "infotext", the text of the PNG {@code parameters} chunk that A1111's PNG Info, Civitai and other
 * readers parse:
 * <pre>
 * prompt
 * Negative prompt: negative prompt
 * Steps: 20, Sampler: Euler a, CFG scale: 7.5, Seed: 1234, Size: 512x512, Model hash: 0123456789, Model: name
 * </pre>
 * {@link #format} is {@code modules/processing.py create_infotext}'s layout (keys with a null value are left out; a
 * value holding {@code ,} {@code :} or a newline is written as a JSON string, {@code infotext_utils.quote});
 * {@link #parse} is the part of {@code modules/infotext_utils.py parse_generation_parameters} that reads the text
 * (not the UI defaults it then fills in): the last line is the parameters line when {@code re_param} finds at least
 * three {@code key: value} pairs in it; the lines before it are the prompt, up to a line starting with
 * {@code Negative prompt:}; quoted values are JSON-decoded; a {@code WxH} value {@code v} of key {@code k} becomes
 * {@code k-1}, {@code k-2}.
 */
public final class Infotext {

    /** re_param, with Python's Unicode-aware \w and \s. */
    private static final Pattern PARAM = Pattern.compile(
            "\\s*(\\w[\\w \\-/]+):\\s*(\"(?:\\\\.|[^\\\\\"])+\"|[^,]*)(?:,|$)", Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern IMAGE_SIZE = Pattern.compile("^(\\d+)x(\\d+)$");
    private static final String NEGATIVE = "Negative prompt:";

    /** What {@link #parse} reads: the prompts and the parameters in their order (sizes split as A1111 does). */
    public record Parsed(String prompt, String negativePrompt, Map<String, String> params) {
    }

    private Infotext() {
    }

    /** create_infotext: prompt, the negative prompt line when there is one, the {@code key: value} line. */
    public static String format(String prompt, String negativePrompt, Map<String, String> params) {
        List<String> kv = new ArrayList<>();
        params.forEach((k, v) -> {
            if (v != null) {
                kv.add(k.equals(v) ? k : k + ": " + quote(v));
            }
        });
        String negative = negativePrompt == null || negativePrompt.isEmpty() ? "" : "\n" + NEGATIVE + " " + negativePrompt;
        return pythonStrip(prompt + negative + "\n" + String.join(", ", kv));
    }

    /** infotext_utils.quote: unchanged unless it holds {@code ,} {@code \n} or {@code :}, then json.dumps(v, ensure_ascii=False). */
    public static String quote(String v) {
        if (v.indexOf(',') < 0 && v.indexOf('\n') < 0 && v.indexOf(':') < 0) {
            return v;
        }
        StringBuilder b = new StringBuilder(v.length() + 2).append('"');
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }

    /** infotext_utils.unquote: a value in double quotes is JSON-decoded; one that does not decode stays as it is. */
    public static String unquote(String v) {
        if (v.length() < 2 || v.charAt(0) != '"' || v.charAt(v.length() - 1) != '"') {
            return v;
        }
        try {
            com.google.gson.JsonElement e = com.google.gson.JsonParser.parseString(v);
            return e.isJsonPrimitive() && e.getAsJsonPrimitive().isString() ? e.getAsString() : v;
        } catch (RuntimeException e) {
            return v;
        }
    }

    /** The reading half of parse_generation_parameters. */
    public static Parsed parse(String text) {
        String[] all = pythonStrip(text).split("\n", -1);
        List<String> lines = new ArrayList<>(List.of(all).subList(0, all.length - 1));
        String lastLine = all[all.length - 1];
        if (count(PARAM.matcher(lastLine)) < 3) {
            lines.add(lastLine);
            lastLine = "";
        }
        StringBuilder prompt = new StringBuilder();
        StringBuilder negative = new StringBuilder();
        boolean doneWithPrompt = false;
        for (String raw : lines) {
            String line = pythonStrip(raw);
            if (line.startsWith(NEGATIVE)) {
                doneWithPrompt = true;
                line = pythonStrip(line.substring(NEGATIVE.length()));
            }
            StringBuilder target = doneWithPrompt ? negative : prompt;
            target.append(target.length() == 0 ? "" : "\n").append(line);
        }
        Map<String, String> params = new LinkedHashMap<>();
        Matcher m = PARAM.matcher(lastLine);
        while (m.find()) {
            String k = m.group(1);
            String v = m.group(2);
            if (!v.isEmpty() && v.charAt(0) == '"' && v.charAt(v.length() - 1) == '"') {
                v = unquote(v);
            }
            Matcher size = IMAGE_SIZE.matcher(v);
            if (size.matches()) {
                params.put(k + "-1", size.group(1));
                params.put(k + "-2", size.group(2));
            } else {
                params.put(k, v);
            }
        }
        return new Parsed(prompt.toString(), negative.toString(), params);
    }

    /** re.findall's count (matches are non-overlapping, as find() walks them). */
    private static int count(Matcher m) {
        int n = 0;
        while (m.find()) {
            n++;
        }
        return n;
    }

    /** Python's str.strip(): whitespace in Python's sense (Unicode White_Space, and \x1c–\x1f) off both ends. */
    static String pythonStrip(String s) {
        int a = 0;
        int b = s.length();
        while (a < b && isPythonSpace(s.charAt(a))) {
            a++;
        }
        while (b > a && isPythonSpace(s.charAt(b - 1))) {
            b--;
        }
        return s.substring(a, b);
    }

    private static boolean isPythonSpace(char c) {
        return Character.isWhitespace(c) || Character.isSpaceChar(c) || c == '\u0085' || (c >= 0x1c && c <= 0x1f);
    }
}
