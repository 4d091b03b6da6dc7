package dev.sdcfg.pipeline.prompt;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * AUTOMATIC1111's attention syntax, as {@code modules/prompt_parser.py parse_prompt_attention} reads it:
 * {@code (text)} multiplies the weight of its text by 1.1, {@code [text]} by 1/1.1, {@code (text:1.3)} by 1.3; they
 * nest (weights multiply); {@code \( \) \[ \] \\} are the literal characters; {@code BREAK} (a whole word) ends the
 * current 75-token chunk. Nothing is an error except a weight that is not a number ({@code (a:1.2.3)}), where A1111
 * fails too: an unbalanced bracket still weights everything after it, a stray {@code )} or {@code ]} or {@code :} is
 * text.
 *
 * <p>The arithmetic is A1111's, step for step (so the doubles are bitwise the same): each closing bracket multiplies
 * the weight of every segment since its opening one, brackets left open are closed at the end (all round ones, then
 * all square ones, innermost last), and neighbouring segments of exactly equal weight are merged.
 *
 * <p>Prompt editing and alternation ({@code [cat:dog:0.5]}, {@code [cat|dog]}) are not scheduled here: such text is
 * read as this parser reads it (A1111 reads it so only after resolving the schedule).
 */
public final class PromptAttention {

    /** A run of text with its weight; {@link #isBreak()} marks a BREAK (text "BREAK", weight −1, as A1111). */
    public record Segment(String text, double weight) {
        public boolean isBreak() {
            return weight == -1 && "BREAK".equals(text);
        }
    }

    /** A weight in round brackets that Python's {@code float()} rejects: A1111 raises, the service answers 422. */
    public static final class InvalidWeightException extends IllegalArgumentException {
        public InvalidWeightException(String message) {
            super(message);
        }
    }

    /*
     * re_attention, alternative for alternative. Python's str patterns are Unicode-aware (\d is any decimal digit,
     * \s and \b use Unicode classes), hence UNICODE_CHARACTER_CLASS.
     */
    private static final Pattern ATTENTION = Pattern.compile(
            "\\\\\\(|\\\\\\)|\\\\\\[|\\\\]|\\\\\\\\|\\\\|\\(|\\[|:([+-]?[.\\d]+)\\)|\\)|]|[^\\\\()\\[\\]:]+|:",
            Pattern.UNICODE_CHARACTER_CLASS);
    /** re_break: {@code \s*\bBREAK\b\s*} (re.S changes nothing here: the pattern has no dot). */
    private static final Pattern BREAK = Pattern.compile("\\s*\\bBREAK\\b\\s*", Pattern.UNICODE_CHARACTER_CLASS);

    private static final double ROUND = 1.1;
    private static final double SQUARE = 1 / 1.1;

    private PromptAttention() {
    }

    /** The weighted segments of {@code text}; never empty (an empty prompt is one empty segment of weight 1). */
    public static List<Segment> parse(String text) {
        List<String> texts = new ArrayList<>();
        List<double[]> weights = new ArrayList<>(); // one mutable cell per segment, as A1111's [text, weight] lists
        List<Integer> round = new ArrayList<>();
        List<Integer> square = new ArrayList<>();
        Matcher m = ATTENTION.matcher(text);
        while (m.find()) {
            String tok = m.group();
            String weight = m.group(1);
            if (tok.startsWith("\\")) {
                texts.add(tok.substring(1));
                weights.add(new double[] {1.0});
            } else if (tok.equals("(")) {
                round.add(texts.size());
            } else if (tok.equals("[")) {
                square.add(texts.size());
            } else if (weight != null && !round.isEmpty()) {
                multiplyRange(weights, round.remove(round.size() - 1), pythonFloat(weight));
            } else if (tok.equals(")") && !round.isEmpty()) {
                multiplyRange(weights, round.remove(round.size() - 1), ROUND);
            } else if (tok.equals("]") && !square.isEmpty()) {
                multiplyRange(weights, square.remove(square.size() - 1), SQUARE);
            } else {
                String[] parts = BREAK.split(tok, -1);
                for (int i = 0; i < parts.length; i++) {
                    if (i > 0) {
                        texts.add("BREAK");
                        weights.add(new double[] {-1});
                    }
                    texts.add(parts[i]);
                    weights.add(new double[] {1.0});
                }
            }
        }
        for (int pos : round) {
            multiplyRange(weights, pos, ROUND);
        }
        for (int pos : square) {
            multiplyRange(weights, pos, SQUARE);
        }
        if (texts.isEmpty()) {
            texts.add("");
            weights.add(new double[] {1.0});
        }
        // merge runs of identical weights
        List<Segment> res = new ArrayList<>();
        StringBuilder run = new StringBuilder(texts.get(0));
        double w = weights.get(0)[0];
        for (int i = 1; i < texts.size(); i++) {
            double wi = weights.get(i)[0];
            if (wi == w) {
                run.append(texts.get(i));
            } else {
                res.add(new Segment(run.toString(), w));
                run.setLength(0);
                run.append(texts.get(i));
                w = wi;
            }
        }
        res.add(new Segment(run.toString(), w));
        return res;
    }

    /** True when the prompt holds anything this parser treats as syntax (a bracket, an escape or BREAK). */
    public static boolean hasSyntax(String text) {
        return text.indexOf('(') >= 0 || text.indexOf('[') >= 0 || text.indexOf(')') >= 0 || text.indexOf(']') >= 0
                || text.indexOf('\\') >= 0 || text.contains("BREAK");
    }

    private static void multiplyRange(List<double[]> weights, int start, double multiplier) {
        for (int p = start; p < weights.size(); p++) {
            weights.get(p)[0] *= multiplier;
        }
    }

    /**
     * Python's {@code float(s)} for what {@code [+-]?[.\d]+} matched: any Unicode decimal digits count as digits;
     * more than one point, or no digit at all, is a ValueError in Python and an {@link InvalidWeightException} here.
     */
    static double pythonFloat(String s) {
        StringBuilder ascii = new StringBuilder(s.length());
        int digits = 0;
        int points = 0;
        for (int i = 0; i < s.length(); ) {
            int cp = s.codePointAt(i);
            i += Character.charCount(cp);
            if (cp == '.') {
                points++;
                ascii.append('.');
            } else if (cp == '+' || cp == '-') {
                ascii.append((char) cp);
            } else {
                ascii.append((char) ('0' + Character.digit(cp, 10)));
                digits++;
            }
        }
        if (digits == 0 || points > 1) {
            throw new InvalidWeightException("attention weight '" + s + "' is not a number (write e.g. (word:1.2);"
                    + " a literal bracket is \\( or \\))");
        }
        return Double.parseDouble(ascii.toString());
    }
}
