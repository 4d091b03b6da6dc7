package dev.sdcfg.model.ti;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.model.clip.ClipTokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * diffusers' textual-inversion semantics for one tokenizer and text encoder: {@code load_textual_inversion} appends
 * each embedding's vectors to the token-embedding table as new tokens ({@code name}, {@code name_1}, … with ids
 * vocab_size, vocab_size + 1, …) and {@code maybe_convert_prompt} expands every occurrence of {@code name} in the
 * prompt to all of its tokens. The tokenizer then matches added tokens in the raw text before BPE (transformers'
 * Trie: the earliest occurrence, the longest name there; case-sensitive, also inside words), and BPE-encodes the
 * text between them. Here the same ids come from splitting the prompt at the names and tokenizing the pieces with
 * the model's own {@link ClipTokenizer}, so the tokenizer itself is never changed; {@link #extraRows} is the table
 * the text encoder appends ({@code ClipTextModel.encode(ids, clipSkip, extraRows)}).
 *
 * <p>Immutable; safe to share between threads.
 */
public final class TextualInversionTokens {

    private final ClipTokenizer tokenizer;
    /** Name → first id; a name's ids are consecutive. */
    private final Map<String, Long> firstId = new LinkedHashMap<>();
    private final Map<String, Integer> counts = new LinkedHashMap<>();
    private final List<TextualInversionFile> embeddings;
    private final int dim;

    /**
     * @param vocabSize  the text encoder's vocab_size (the first free row of its token-embedding table)
     * @param hiddenSize the text encoder's width; every embedding must match it
     */
    public TextualInversionTokens(ClipTokenizer tokenizer, int vocabSize, int hiddenSize,
                                  List<TextualInversionFile> embeddings) {
        this.tokenizer = tokenizer;
        this.embeddings = List.copyOf(embeddings);
        this.dim = hiddenSize;
        long next = vocabSize;
        for (TextualInversionFile e : this.embeddings) {
            e.requireWidth(hiddenSize);
            if (e.name().isEmpty() || firstId.containsKey(e.name())) {
                throw new IllegalArgumentException("textual inversion name '" + e.name() + "' is empty or repeated");
            }
            firstId.put(e.name(), next);
            counts.put(e.name(), e.vectorCount());
            next += e.vectorCount();
        }
    }

    /** The number of rows {@link #extraRows} holds. */
    public int extraRowCount() {
        return counts.values().stream().mapToInt(Integer::intValue).sum();
    }

    /** The vectors of all embeddings, in id order: [extraRowCount, hidden] in {@code dtype}. */
    public NDArray extraRows(NDManager manager, DataType dtype) {
        double[] all = new double[extraRowCount() * dim];
        int at = 0;
        for (TextualInversionFile e : embeddings) {
            double[] v = e.values();
            System.arraycopy(v, 0, all, at, v.length);
            at += v.length;
        }
        NDArray rows = manager.create(all, new Shape(extraRowCount(), dim));
        return dtype == DataType.FLOAT64 ? rows : rows.toType(dtype, false);
    }

    /** The ids of {@code text} without BOS/EOS: BPE between the names, each name's ids in its place. */
    public long[] tokenIds(String text) {
        List<long[]> parts = new ArrayList<>();
        int start = 0;
        int i = 0;
        while (i < text.length()) {
            String hit = null;
            for (String name : firstId.keySet()) {
                if (text.startsWith(name, i) && (hit == null || name.length() > hit.length())) {
                    hit = name;
                }
            }
            if (hit == null) {
                i++;
                continue;
            }
            if (i > start) {
                parts.add(tokenizer.tokenIds(text.substring(start, i)));
            }
            long[] ids = new long[counts.get(hit)];
            for (int k = 0; k < ids.length; k++) {
                ids[k] = firstId.get(hit) + k;
            }
            parts.add(ids);
            i += hit.length();
            start = i;
        }
        if (start < text.length()) {
            parts.add(tokenizer.tokenIds(text.substring(start)));
        }
        return parts.stream().flatMapToLong(Arrays::stream).toArray();
    }

    /**
     * {@link ClipTokenizer#encode} with the embeddings' tokens: BOS, ids, EOS, padded to the tokenizer's length;
     * too long a prompt is cut and EOS kept last.
     */
    public ClipTokenizer.Encoding encode(String prompt) {
        long[] body = tokenIds(prompt);
        int max = tokenizer.maxLength();
        int n = body.length + 2;
        long[] ids = new long[max];
        long[] mask = new long[max];
        ids[0] = tokenizer.bosId();
        int kept = Math.min(body.length, max - 2);
        System.arraycopy(body, 0, ids, 1, kept);
        ids[kept + 1] = tokenizer.eosId();
        Arrays.fill(ids, kept + 2, max, tokenizer.padId());
        Arrays.fill(mask, 0, kept + 2, 1L);
        return new ClipTokenizer.Encoding(ids, mask, n);
    }

    /** True when {@code text} uses one of the embeddings. */
    public boolean usedIn(String text) {
        return firstId.keySet().stream().anyMatch(text::contains);
    }
}
