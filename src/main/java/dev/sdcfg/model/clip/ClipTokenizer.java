package dev.sdcfg.model.clip;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import dev.sdcfg.model.ModelLoadException;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * CLIP's byte-level BPE tokenizer, as diffusers calls it for Stable Diffusion:
 * {@code tokenizer(prompt, padding="max_length", max_length=77, truncation=True)}.
 *
 * <p>The tokenization itself runs in the HuggingFace tokenizers library (DJL's binding). When the folder has a
 * {@code tokenizer.json} it is used; otherwise (most SD folders hold only {@code vocab.json} + {@code merges.txt})
 * {@link ClipTokenizerJson} assembles the same tokenizer.json that transformers' {@code CLIPTokenizer} builds.
 *
 * <p>Truncation and padding are done here, not by the library: the library encodes the whole prompt (so the
 * untruncated length is known for warnings), then the ids are cut to {@code maxLength - 1} and EOS is appended
 * (what tokenizers' truncation with special tokens gives), and the rest is filled with the pad token. The pad token
 * comes from {@code tokenizer_config.json} / {@code special_tokens_map.json}: EOS (49407) for SD 1.x, {@code "!"}
 * (id 0) for SD 2.x. DJL would pad with id 0 whatever the tokenizer says, so its padding is never used.
 *
 * <p>As in transformers, every special token (BOS, EOS, UNK, PAD) is registered as a special added token, so it is
 * matched in the prompt text before normalisation. For SD 2.x this means that each {@code "!"} in a prompt becomes
 * its own token (diffusers issue #4153); this class reproduces diffusers, not OpenCLIP, there.
 *
 * <p>Instances are immutable and {@link #encode} may be called from several threads.
 */
public final class ClipTokenizer implements AutoCloseable {

    /** CLIP's context length; also the fallback when no config names one. */
    public static final int DEFAULT_MAX_LENGTH = 77;

    static final String DEFAULT_BOS = "<|startoftext|>";
    static final String DEFAULT_EOS = "<|endoftext|>";

    /**
     * One tokenized prompt.
     *
     * @param ids               {@code maxLength} token ids: BOS, tokens, EOS, then padding
     * @param attentionMask     1 for BOS, tokens and EOS, 0 for padding (the SD text encoder ignores it)
     * @param untruncatedLength token count including BOS and EOS before truncation
     */
    public record Encoding(long[] ids, long[] attentionMask, int untruncatedLength) {

        /** True when the prompt did not fit and tokens were cut (EOS is still the last id). */
        public boolean truncated() {
            return untruncatedLength > ids.length;
        }

        /** The number of ids that are not padding. */
        public int length() {
            return Math.min(untruncatedLength, ids.length);
        }
    }

    private final HuggingFaceTokenizer tokenizer;
    private final int maxLength;
    private final long bosId;
    private final long eosId;
    private final long padId;
    private final String source;

    private ClipTokenizer(HuggingFaceTokenizer tokenizer, int maxLength, long bosId, long eosId, long padId,
                          String source) {
        this.tokenizer = tokenizer;
        this.maxLength = maxLength;
        this.bosId = bosId;
        this.eosId = eosId;
        this.padId = padId;
        this.source = source;
    }

    /** Loads with the length from the folder's configs (see {@link #load(Path, int)} with 0). */
    public static ClipTokenizer load(Path tokenizerDir) {
        return load(tokenizerDir, 0);
    }

    /**
     * Loads the tokenizer of a diffusers {@code tokenizer/} folder.
     *
     * @param maxLength the padded length (77 for SD); 0 or less takes {@code model_max_length} from
     *                  tokenizer_config.json when it is a real limit, else {@code max_position_embeddings} of a
     *                  sibling {@code text_encoder/config.json}, else 77
     */
    public static ClipTokenizer load(Path tokenizerDir, int maxLength) {
        return load(tokenizerDir, maxLength, null);
    }

    /**
     * {@link #load(Path, int)} with the pad token replaced by {@code padToken} (null: the folder's): a single-file
     * SD 2.x checkpoint uses the bundled vocabulary with OpenCLIP's pad token "!".
     */
    public static ClipTokenizer load(Path tokenizerDir, int maxLength, String padToken) {
        if (!Files.isDirectory(tokenizerDir)) {
            throw new ModelLoadException("missing tokenizer folder " + tokenizerDir);
        }
        SpecialTokens read = SpecialTokens.read(tokenizerDir);
        SpecialTokens special = padToken == null ? read
                : new SpecialTokens(read.bos(), read.eos(), read.unk(), padToken);
        checkSides(tokenizerDir.resolve("tokenizer_config.json"));
        int length = maxLength > 0 ? maxLength : resolveMaxLength(tokenizerDir);
        if (length < 2) {
            throw new ModelLoadException(tokenizerDir + ": max length " + length + " leaves no room for BOS and EOS");
        }
        Path json = tokenizerDir.resolve("tokenizer.json");
        JsonObject spec;
        String source;
        if (Files.isRegularFile(json)) {
            spec = ClipTokenizerJson.readJson(json).getAsJsonObject();
            source = json.toString();
        } else {
            spec = ClipTokenizerJson.build(tokenizerDir, special);
            source = tokenizerDir.resolve("vocab.json") + " + merges.txt";
        }
        long bos = ClipTokenizerJson.tokenId(spec, special.bos, source);
        long eos = ClipTokenizerJson.tokenId(spec, special.eos, source);
        long pad = ClipTokenizerJson.tokenId(spec, special.pad, source);
        ClipTokenizerJson.addSpecialTokens(spec, special, source);
        // Library-side truncation and padding are off: both happen in encode().
        spec.add("truncation", JsonNull.INSTANCE);
        spec.add("padding", JsonNull.INSTANCE);
        Map<String, String> options = new LinkedHashMap<>();
        options.put("addSpecialTokens", "true");
        options.put("truncation", "false");
        options.put("padding", "false");
        byte[] bytes = GSON.toJson(spec).getBytes(StandardCharsets.UTF_8);
        HuggingFaceTokenizer hf;
        try {
            hf = HuggingFaceTokenizer.newInstance(new ByteArrayInputStream(bytes), options);
        } catch (IOException | RuntimeException e) {
            throw new ModelLoadException(source + ": the tokenizers library rejected the tokenizer: " + e.getMessage(), e);
        }
        return new ClipTokenizer(hf, length, bos, eos, pad, source);
    }

    /** Tokenizes one prompt to exactly {@link #maxLength()} ids. */
    public Encoding encode(String prompt) {
        if (prompt == null) {
            throw new IllegalArgumentException("prompt must not be null");
        }
        long[] raw = tokenizer.encode(prompt, true, false).getIds();
        int n = raw.length;
        long[] ids = new long[maxLength];
        long[] mask = new long[maxLength];
        int kept = Math.min(n, maxLength);
        if (n > maxLength) {
            System.arraycopy(raw, 0, ids, 0, maxLength - 1);
            ids[maxLength - 1] = eosId;
        } else {
            System.arraycopy(raw, 0, ids, 0, n);
        }
        Arrays.fill(ids, kept, maxLength, padId);
        Arrays.fill(mask, 0, kept, 1L);
        return new Encoding(ids, mask, n);
    }

    /**
     * The ids of {@code text} without BOS/EOS, untruncated: transformers'
     * {@code tokenizer(text, truncation=False, add_special_tokens=False)}, as A1111 tokenizes prompt segments.
     */
    public long[] tokenIds(String text) {
        return tokenizer.encode(text, false, false).getIds();
    }

    public int maxLength() {
        return maxLength;
    }

    public long bosId() {
        return bosId;
    }

    public long eosId() {
        return eosId;
    }

    public long padId() {
        return padId;
    }

    /** Where the tokenizer came from (tokenizer.json or vocab.json + merges.txt). */
    public String source() {
        return source;
    }

    @Override
    public void close() {
        tokenizer.close();
    }

    @Override
    public String toString() {
        return "ClipTokenizer[" + source + ", maxLength=" + maxLength + ", pad=" + padId + "]";
    }

    // ---------------------------------------------------------------------------------------------------------

    private static final Gson GSON = new GsonBuilder().serializeNulls().disableHtmlEscaping().create();

    /** Special token strings from tokenizer_config.json, overridden by special_tokens_map.json (as transformers). */
    record SpecialTokens(String bos, String eos, String unk, String pad) {

        static SpecialTokens read(Path dir) {
            Map<String, String> tokens = new LinkedHashMap<>();
            tokens.put("bos_token", DEFAULT_BOS);
            tokens.put("eos_token", DEFAULT_EOS);
            tokens.put("unk_token", DEFAULT_EOS);
            tokens.put("pad_token", DEFAULT_EOS);
            for (String name : new String[] {"tokenizer_config.json", "special_tokens_map.json"}) {
                Path f = dir.resolve(name);
                if (!Files.isRegularFile(f)) {
                    continue;
                }
                JsonObject o = ClipTokenizerJson.readJson(f).getAsJsonObject();
                for (String key : List.copyOf(tokens.keySet())) {
                    String v = tokenContent(o.get(key), f, key);
                    if (v != null) {
                        tokens.put(key, v);
                    }
                }
            }
            return new SpecialTokens(tokens.get("bos_token"), tokens.get("eos_token"), tokens.get("unk_token"),
                    tokens.get("pad_token"));
        }

        /** A token is a string or an AddedToken object {"content": …}. */
        private static String tokenContent(JsonElement e, Path file, String key) {
            if (e == null || e.isJsonNull()) {
                return null;
            }
            if (e.isJsonPrimitive() && e.getAsJsonPrimitive().isString()) {
                return e.getAsString();
            }
            if (e.isJsonObject() && e.getAsJsonObject().has("content")) {
                return e.getAsJsonObject().get("content").getAsString();
            }
            throw new ModelLoadException(file + ": '" + key + "' must be a string or {\"content\": …}, got " + e);
        }
    }

    /**
     * transformers pads and truncates on the side {@code padding_side} / {@code truncation_side} name; this class
     * implements the default "right" only, so "left" (which would change the ids the text encoder sees) is refused.
     */
    static void checkSides(Path tokenizerConfig) {
        if (!Files.isRegularFile(tokenizerConfig)) {
            return;
        }
        JsonObject o = ClipTokenizerJson.readJson(tokenizerConfig).getAsJsonObject();
        for (String key : new String[] {"padding_side", "truncation_side"}) {
            JsonElement e = o.get(key);
            if (e != null && !e.isJsonNull() && !(e.isJsonPrimitive() && "right".equals(e.getAsString()))) {
                throw new ModelLoadException(tokenizerConfig + ": unsupported value " + e + " for '" + key
                        + "' (supported: right)");
            }
        }
    }

    static int resolveMaxLength(Path tokenizerDir) {
        Path cfg = tokenizerDir.resolve("tokenizer_config.json");
        if (Files.isRegularFile(cfg)) {
            JsonElement m = ClipTokenizerJson.readJson(cfg).getAsJsonObject().get("model_max_length");
            // transformers writes 1e30 ("VERY_LARGE_INTEGER") when no limit is known
            if (m != null && m.isJsonPrimitive() && m.getAsJsonPrimitive().isNumber()) {
                double v = m.getAsDouble();
                if (v >= 2 && v <= 1_000_000) {
                    return (int) v;
                }
            }
        }
        Path parent = tokenizerDir.toAbsolutePath().getParent();
        if (parent != null) {
            Path te = parent.resolve("text_encoder").resolve("config.json");
            if (Files.isRegularFile(te)) {
                JsonElement m = ClipTokenizerJson.readJson(te).getAsJsonObject().get("max_position_embeddings");
                if (m != null && m.isJsonPrimitive() && m.getAsJsonPrimitive().isNumber()) {
                    return m.getAsInt();
                }
            }
        }
        return DEFAULT_MAX_LENGTH;
    }
}
