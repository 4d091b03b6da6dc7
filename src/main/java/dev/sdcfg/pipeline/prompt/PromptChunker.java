package dev.sdcfg.pipeline.prompt;

import dev.sdcfg.model.clip.ClipTokenizer;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A1111's {@code FrozenCLIPEmbedderWithCustomWordsBase.tokenize_line} (modules/sd_hijack_clip.py): a prompt's
 * weighted segments ({@link PromptAttention}) become chunks of 75 tokens, each framed as BOS + 75 + EOS = 77 ids
 * with EOS padding and weight 1 on the frame and the padding. A BREAK closes the current chunk. When a chunk is full
 * and the next token is not a comma, the tokens after the chunk's last comma move to the next chunk if there are at
 * most {@code comma_padding_backtrack} (20) of them. Where the tokenizer pads with another token than EOS (SD 2.x),
 * every id after a chunk's first EOS becomes the pad id ({@code process_tokens}). Textual-inversion embeddings are
 * not handled here.
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
     */
    public record Chunks(List<long[]> tokens, List<float[]> multipliers, int tokenCount) {
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
        return chunk(PromptAttention.parse(prompt));
    }

    public Chunks chunk(List<PromptAttention.Segment> parsed) {
        State st = new State(tokenizer.bosId(), tokenizer.eosId());
        for (PromptAttention.Segment seg : parsed) {
            if (seg.isBreak()) {
                st.nextChunk(false);
                continue;
            }
            long[] ids = tokenizer.tokenIds(seg.text());
            float weight = (float) seg.weight();
            for (long token : ids) {
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
                st.tokens.add(token);
                st.mults.add(weight);
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
        return new Chunks(List.copyOf(st.chunks), List.copyOf(st.chunkMults), st.tokenCount);
    }

    /** tokenize_line's locals; {@link #nextChunk} is its closure of the same name. */
    private static final class State {
        final long bos;
        final long eos;
        final List<long[]> chunks = new ArrayList<>();
        final List<float[]> chunkMults = new ArrayList<>();
        List<Long> tokens = new ArrayList<>();
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
            tokens = new ArrayList<>();
            mults = new ArrayList<>();
        }
    }
}
