package dev.sdcfg.pipeline.prompt;

import dev.sdcfg.model.clip.ClipTokenizer;
import dev.sdcfg.model.ti.TextualInversionFile;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.UnaryOperator;

/**
 * A1111's {@code FrozenCLIPEmbedderWithCustomWordsBase.tokenize_line} (modules/sd_hijack_clip.py): a prompt's
 * weighted segments ({@link PromptAttention}) become chunks of 75 tokens, each framed as BOS + 75 + EOS = 77 ids
 * with EOS padding and weight 1 on the frame and the padding. A BREAK closes the current chunk. When a chunk is full
 * and the next token is not a comma, the tokens after the chunk's last comma move to the next chunk if there are at
 * most {@code comma_padding_backtrack} (20) of them. Where the tokenizer pads with another token than EOS (SD 2.x),
 * every id after a chunk's first EOS becomes the pad id ({@code process_tokens}).
 *
 * <p>With an {@link EmbeddingDatabase}, a name found at a position ({@code find_embedding_at_position}) takes
 * {@code emb_len} positions holding id 0 at the weight of the text around it, and the chunk records a {@link Fix}
 * (offset, embedding) for {@code EmbeddingsWithFixes} to write the vectors there ({@link #lookup}). An embedding is
 * never split: if it does not fit, the chunk is padded and closed first. As in A1111, the comma backtrack moves ids
 * but not fixes, so an embedding after the last comma of a full chunk leaves its zeros to the next chunk and its
 * vectors over the old chunk's padding.
 */
public final class PromptChunker {

    /** Tokens of prompt text per chunk (CLIP's 77 less BOS and EOS). */
    public static final int CHUNK_LENGTH = 75;
    /** webui's default for {@code opts.comma_padding_backtrack}. */
    public static final int COMMA_PADDING_BACKTRACK = 20;

    /**
     * The chunks of one prompt.
     *
     * @param tokens      per chunk, {@code CHUNK_LENGTH + 2} ids
     * @param multipliers per chunk, the weight of each id (float32, as A1111's {@code torch.asarray} makes them)
     * @param tokenCount  A1111's token count (75 per full chunk, the real tokens of the last one)
     * @param fixes       per chunk, the embeddings placed in it ({@code PromptChunk.fixes}); empty without a database
     */
    public record Chunks(List<long[]> tokens, List<float[]> multipliers, int tokenCount, List<List<Fix>> fixes) {
        public Chunks(List<long[]> tokens, List<float[]> multipliers, int tokenCount) {
            this(tokens, multipliers, tokenCount, tokens.stream().map(t -> List.<Fix>of()).toList());
        }

        public int size() {
            return tokens.size();
        }

        /** True when every multiplier is 1 (A1111's emphasis then leaves z unchanged, bit for bit). */
        public boolean unweighted(int chunk) {
            for (float m : multipliers.get(chunk)) {
                if (m != 1.0f) {
                    return false;
                }
            }
            return true;
        }
    }

    /**
     * A1111's {@code PromptChunkFix}: the embedding's vectors go to positions {@code offset + 1} … of the chunk
     * ({@code offset} counts the chunk's ids before BOS was put in front).
     */
    public record Fix(int offset, EmbeddingDatabase.Embedding embedding) {
    }

    /**
     * The ids a chunk's token-embedding lookup reads and the rows they reach: A1111's ids with every fix's
     * positions pointing to {@code vocabSize + r}, row r of {@code rows} ([rowCount, dim], row-major), the fixes'
     * vectors in order. The encoder appends the rows to its table; gathering them is the same as
     * {@code EmbeddingsWithFixes}' {@code torch.cat}.
     */
    public record Lookup(long[] ids, double[] rows, int rowCount) {
    }

    private final ClipTokenizer tokenizer;
    private final long commaToken;

    public PromptChunker(ClipTokenizer tokenizer) {
        this.tokenizer = tokenizer;
        // A1111: vocab.get(',</w>'); CLIP's BPE gives exactly that token for a lone comma
        long[] comma = tokenizer.tokenIds(",");
        this.commaToken = comma.length == 1 ? comma[0] : Long.MIN_VALUE;
    }

    /** Parses (A1111 syntax) and chunks a prompt; throws {@link PromptAttention.InvalidWeightException}. */
    public Chunks chunk(String prompt) {
        return chunk(PromptAttention.parse(prompt), null);
    }

    /**
     * {@link #chunk(String)} with the embeddings of {@code db} (null: none); throws
     * {@link EmbeddingDatabase.UnusableEmbeddingException} when a name found cannot be used.
     */
    public Chunks chunk(String prompt, EmbeddingDatabase db) {
        return chunk(PromptAttention.parse(prompt), db);
    }

    public Chunks chunk(List<PromptAttention.Segment> parsed) {
        return chunk(parsed, null);
    }

    public Chunks chunk(List<PromptAttention.Segment> parsed, EmbeddingDatabase db) {
        State st = new State(tokenizer.bosId(), tokenizer.eosId());
        for (PromptAttention.Segment seg : parsed) {
            if (seg.isBreak()) {
                st.nextChunk(false);
                continue;
            }
            long[] ids = tokenizer.tokenIds(seg.text());
            float weight = (float) seg.weight();
            int position = 0;
            while (position < ids.length) {
                long token = ids[position];
                if (token == commaToken) {
                    st.lastComma = st.tokens.size();
                } else if (st.tokens.size() == CHUNK_LENGTH && st.lastComma != -1
                        && st.tokens.size() - st.lastComma <= COMMA_PADDING_BACKTRACK) {
                    int breakLocation = st.lastComma + 1;
                    List<Long> relocTokens = new ArrayList<>(st.tokens.subList(breakLocation, st.tokens.size()));
                    List<Float> relocMults = new ArrayList<>(st.mults.subList(breakLocation, st.mults.size()));
                    st.tokens.subList(breakLocation, st.tokens.size()).clear();
                    st.mults.subList(breakLocation, st.mults.size()).clear();
                    st.nextChunk(false);
                    st.tokens.addAll(relocTokens);
                    st.mults.addAll(relocMults);
                }
                if (st.tokens.size() == CHUNK_LENGTH) {
                    st.nextChunk(false);
                }
                EmbeddingDatabase.Match match = db == null ? null : db.find(ids, position);
                if (match == null) {
                    st.tokens.add(token);
                    st.mults.add(weight);
                    position++;
                    continue;
                }
                int embLen = match.embedding().vectors();
                if (embLen > CHUNK_LENGTH) {
                    // A1111 would make a chunk longer than CLIP's 77 positions and fail in the text encoder
                    throw new EmbeddingDatabase.UnusableEmbeddingException("the textual-inversion embedding '"
                            + match.embedding().name() + "' has " + embLen + " vectors; a chunk holds at most "
                            + CHUNK_LENGTH);
                }
                if (st.tokens.size() + embLen > CHUNK_LENGTH) {
                    st.nextChunk(false);
                }
                st.fixes.add(new Fix(st.tokens.size(), match.embedding()));
                for (int k = 0; k < embLen; k++) {
                    st.tokens.add(0L);
                    st.mults.add(weight);
                }
                position += match.lengthInTokens();
            }
        }
        if (!st.tokens.isEmpty() || st.chunks.isEmpty()) {
            st.nextChunk(true);
        }
        long pad = tokenizer.padId();
        long eos = tokenizer.eosId();
        if (pad != eos) {
            for (long[] c : st.chunks) {
                int first = 0;
                while (c[first] != eos) {
                    first++;
                }
                Arrays.fill(c, first + 1, c.length, pad);
            }
        }
        return new Chunks(List.copyOf(st.chunks), List.copyOf(st.chunkMults), st.tokenCount,
                List.copyOf(st.chunkFixes));
    }

    /**
     * The lookup of chunk {@code i} for an encoder with {@code vocabSize} rows, the fixes' vectors taken from
     * {@code table} of each file (the file itself; SDXL's second encoder: {@code clip_g}) and rounded to float32
     * as A1111 loads every embedding ({@code .to(dtype=torch.float32)}); null when the chunk has no fix.
     */
    public static Lookup lookup(Chunks chunks, int i, long vocabSize,
                                UnaryOperator<TextualInversionFile> table) {
        List<Fix> fixes = chunks.fixes().get(i);
        if (fixes.isEmpty()) {
            return null;
        }
        long[] ids = chunks.tokens().get(i).clone();
        List<double[]> parts = new ArrayList<>();
        int rows = 0;
        for (Fix f : fixes) {
            TextualInversionFile t = table.apply(f.embedding().file());
            double[] v = t.values();
            for (int k = 0; k < v.length; k++) {
                v[k] = (float) v[k];
            }
            // EmbeddingsWithFixes: emb_len = min(T - offset - 1, n); tokenize_line keeps offset + n <= 75
            int n = Math.min(ids.length - f.offset() - 1, t.vectorCount());
            for (int k = 0; k < n; k++) {
                ids[f.offset() + 1 + k] = vocabSize + rows + k;
            }
            parts.add(Arrays.copyOf(v, n * t.dim()));
            rows += n;
        }
        double[] all = new double[parts.stream().mapToInt(p -> p.length).sum()];
        int at = 0;
        for (double[] p : parts) {
            System.arraycopy(p, 0, all, at, p.length);
            at += p.length;
        }
        return new Lookup(ids, all, rows);
    }

    /** tokenize_line's locals; {@link #nextChunk} is its closure of the same name. */
    private static final class State {
        final long bos;
        final long eos;
        final List<long[]> chunks = new ArrayList<>();
        final List<float[]> chunkMults = new ArrayList<>();
        final List<List<Fix>> chunkFixes = new ArrayList<>();
        List<Long> tokens = new ArrayList<>();
        List<Fix> fixes = new ArrayList<>();
        List<Float> mults = new ArrayList<>();
        int tokenCount;
        int lastComma = -1;

        State(long bos, long eos) {
            this.bos = bos;
            this.eos = eos;
        }

        void nextChunk(boolean isLast) {
            tokenCount += isLast ? tokens.size() : CHUNK_LENGTH;
            long[] ids = new long[CHUNK_LENGTH + 2];
            float[] m = new float[CHUNK_LENGTH + 2];
            Arrays.fill(ids, eos);
            Arrays.fill(m, 1.0f);
            ids[0] = bos;
            for (int i = 0; i < tokens.size(); i++) {
                ids[i + 1] = tokens.get(i);
                m[i + 1] = mults.get(i);
            }
            lastComma = -1;
            chunks.add(ids);
            chunkMults.add(m);
            chunkFixes.add(List.copyOf(fixes));
            fixes = new ArrayList<>();
            tokens = new ArrayList<>();
            mults = new ArrayList<>();
        }
    }
}
