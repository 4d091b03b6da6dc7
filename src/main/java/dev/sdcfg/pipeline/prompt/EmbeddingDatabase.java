package dev.sdcfg.pipeline.prompt;

import dev.sdcfg.model.clip.ClipTokenizer;
import dev.sdcfg.model.ti.TextualInversionFile;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * A1111's {@code EmbeddingDatabase} (modules/textual_inversion/textual_inversion.py) as its prompt path reads it:
 * every embedding is registered under the token ids of its name ({@code register_embedding_by_name}: the name
 * tokenized as prompt text, so matching is by whole tokens, case-insensitive and blind to how the text around a
 * punctuation mark is spaced, as CLIP's tokenizer is), in {@code ids_lookup} keyed by the first id, longest name
 * first; {@link #find} is {@code find_embedding_at_position}. Names that tokenize alike ({@code Style}, {@code style})
 * keep their registration order, so the first registered wins, as in A1111 (where that order is its folder walk's).
 *
 * <p>Files are read on their first match ({@link Embedding#file()}), so a request reads only the embeddings its
 * prompts use; a reader that fails throws {@link UnusableEmbeddingException}. Per request, one thread.
 */
public final class EmbeddingDatabase {

    /** An embedding that a prompt names but that cannot be used (unreadable, another model family, too long). */
    public static final class UnusableEmbeddingException extends IllegalArgumentException {
        public UnusableEmbeddingException(String message) {
            super(message);
        }
    }

    /** One registered embedding: its name and its file, read on first use. */
    public static final class Embedding {
        private final String name;
        private final Supplier<TextualInversionFile> reader;
        private TextualInversionFile file;

        Embedding(String name, Supplier<TextualInversionFile> reader) {
            this.name = name;
            this.reader = reader;
        }

        public String name() {
            return name;
        }

        /** The file, read (and checked by the reader) on the first call. */
        public TextualInversionFile file() {
            if (file == null) {
                file = reader.get();
            }
            return file;
        }

        /** A1111's {@code embedding.vectors}: the positions the name takes in a chunk. */
        public int vectors() {
            return file().vectorCount();
        }
    }

    /** A name found in a prompt's ids: the embedding and how many of the ids its name took. */
    public record Match(Embedding embedding, int lengthInTokens) {
    }

    private record Registered(long[] ids, Embedding embedding) {
    }

    private final Map<Long, List<Registered>> idsLookup = new HashMap<>();

    /**
     * Registers {@code names} in order, each read by {@code reader} on its first match; names whose text gives no
     * token are skipped (A1111's {@code ids[0]} fails on them and the file is not loaded).
     */
    public EmbeddingDatabase(ClipTokenizer tokenizer, List<String> names,
                             Function<String, TextualInversionFile> reader) {
        for (String name : names) {
            long[] ids = tokenizer.tokenIds(name);
            if (ids.length == 0) {
                continue;
            }
            List<Registered> lookup = idsLookup.computeIfAbsent(ids[0], k -> new ArrayList<>());
            lookup.add(new Registered(ids, new Embedding(name, () -> reader.apply(name))));
            // Python's sorted(..., key=len, reverse=True) is stable: equal lengths keep their order
            lookup.sort(Comparator.comparingInt((Registered r) -> r.ids.length).reversed());
        }
    }

    /** The embedding whose name's ids start at {@code tokens[offset]}, the longest first; null if none. */
    public Match find(long[] tokens, int offset) {
        List<Registered> possible = idsLookup.get(tokens[offset]);
        if (possible == null) {
            return null;
        }
        for (Registered r : possible) {
            int end = offset + r.ids.length;
            if (end <= tokens.length && Arrays.equals(tokens, offset, end, r.ids, 0, r.ids.length)) {
                return new Match(r.embedding, r.ids.length);
            }
        }
        return null;
    }

    /** True when no name is registered. */
    public boolean isEmpty() {
        return idsLookup.isEmpty();
    }
}
