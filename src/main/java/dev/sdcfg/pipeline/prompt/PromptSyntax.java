package dev.sdcfg.pipeline.prompt;

import java.util.Locale;

/** How a request's prompt text is read (request field {@code prompt_syntax}). */
public enum PromptSyntax {
    /**
     * AUTOMATIC1111's: attention weights {@code (a:1.2)} {@code [a]}, escapes, BREAK, any length in chunks of 75
     * tokens ({@link PromptAttention}, {@link PromptChunker}, {@link WeightedPromptEncoder}).
     */
    A1111,
    /** diffusers': the text as it is, cut at the tokenizer's 77 tokens (with a warning). */
    PLAIN;

    /** The request value ("a1111", "plain"). */
    public String value() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Parses a request value (case-insensitive); null for an unknown one. */
    public static PromptSyntax of(String value) {
        for (PromptSyntax s : values()) {
            if (s.value().equalsIgnoreCase(value)) {
                return s;
            }
        }
        return null;
    }
}
