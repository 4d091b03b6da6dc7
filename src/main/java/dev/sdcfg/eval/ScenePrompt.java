package dev.sdcfg.eval;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A demo-world prompt (the grammar of scenes.Scene.caption) read into the attributes it asks for, and an image's
 * {@link SceneAnalyzer.Reading} scored against them: one boolean per asked attribute, so "a red circle on a blue
 * background" is scored on object colour, shape and background, and size/position only when the prompt says them.
 */
public record ScenePrompt(List<Wanted> objects, List<String> background) {

    /** One asked object; {@code size} and {@code position} are null when the prompt leaves them open. */
    public record Wanted(String color, String shape, String size, String position) {
    }

    private static final Map<String, String> PHRASES = Map.of("in the center", "center", "on the left", "left",
            "on the right", "right", "at the top", "top", "at the bottom", "bottom");
    private static final String COLOR = String.join("|", SceneVocabulary.COLOR_NAMES);
    private static final Pattern OBJECT = Pattern.compile("an? (?:(small|large) )?(" + COLOR + ") ("
            + String.join("|", SceneVocabulary.SHAPES) + ")(?: (" + String.join("|", PHRASES.keySet()) + "))?");
    private static final Pattern WHOLE = Pattern.compile("(.+?) on a (" + COLOR + ")(?: and (" + COLOR
            + "))? background");

    /** Parses a prompt of the demo grammar; IllegalArgumentException names what does not fit. */
    public static ScenePrompt parse(String prompt) {
        Matcher w = WHOLE.matcher(prompt.trim());
        if (!w.matches()) {
            throw new IllegalArgumentException("not a demo-world prompt (no \"on a COLOR background\"): " + prompt);
        }
        List<String> background = w.group(3) == null ? List.of(w.group(2)) : List.of(w.group(2), w.group(3));
        List<Wanted> objects = new ArrayList<>();
        for (String part : w.group(1).split(" and (?=an? )")) {
            Matcher m = OBJECT.matcher(part);
            if (!m.matches()) {
                throw new IllegalArgumentException("not a demo-world object: \"" + part + "\" in " + prompt);
            }
            objects.add(new Wanted(m.group(2), m.group(3), m.group(1),
                    m.group(4) == null ? null : PHRASES.get(m.group(4))));
        }
        if (objects.size() > 2) {
            throw new IllegalArgumentException("the demo world draws one or two objects: " + prompt);
        }
        return new ScenePrompt(List.copyOf(objects), background);
    }

    /**
     * Each asked attribute, right or wrong, keyed "background", "object0.color", "object0.shape", … . An object is
     * matched to the found object nearest its asked position (or the largest, for an unplaced single object);
     * a missing object fails all its attributes.
     */
    public Map<String, Boolean> score(SceneAnalyzer.Reading reading) {
        Map<String, Boolean> out = new LinkedHashMap<>();
        out.put("background", reading.background().equals(background));
        List<SceneAnalyzer.Thing> left = new ArrayList<>(reading.objects());
        for (int k = 0; k < objects.size(); k++) {
            Wanted want = objects.get(k);
            SceneAnalyzer.Thing got = pick(want, left);
            if (got != null) {
                left.remove(got);
            }
            String p = "object" + k + ".";
            out.put(p + "color", got != null && got.color().equals(want.color()));
            out.put(p + "shape", got != null && got.shape().equals(want.shape()));
            if (want.size() != null) {
                out.put(p + "size", got != null && got.size().equals(want.size()));
            }
            if (want.position() != null) {
                out.put(p + "position", got != null && got.position().equals(want.position()));
            }
        }
        return out;
    }

    /** Every asked attribute right. */
    public boolean allRight(SceneAnalyzer.Reading reading) {
        return !score(reading).containsValue(false);
    }

    private static SceneAnalyzer.Thing pick(Wanted want, List<SceneAnalyzer.Thing> found) {
        if (found.isEmpty()) {
            return null;
        }
        if (want.position() == null) {
            return found.get(0);
        }
        double[] c = SceneVocabulary.POSITIONS.get(want.position());
        SceneAnalyzer.Thing best = null;
        double bestD = Double.MAX_VALUE;
        for (SceneAnalyzer.Thing t : found) {
            double[] at = SceneVocabulary.POSITIONS.get(t.position());
            double d = Math.hypot(at[0] - c[0], at[1] - c[1]);
            if (d < bestD) {
                bestD = d;
                best = t;
            }
        }
        return best;
    }
}
