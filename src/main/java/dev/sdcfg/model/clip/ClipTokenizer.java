package dev.sdcfg.model.clip;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import dev.sdcfg.model.ModelLoadException;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * CLIP's byte-level BPE tokenizer, as diffusers calls it for Stable Diffusion:
 * {@code tokenizer(prompt, padding="max_length", max_length=77, truncation=True)}.
 *
 * <p>The tokenization itself runs in the HuggingFace tokenizers library (DJL's binding). When the folder has a
 * {@code tokenizer.json} it is used; otherwise (most SD folders hold only {@code vocab.json} + {@code merges.txt})
 * the same tokenizer.json that transformers' {@code CLIPTokenizer} builds is assembled here: NFC → {@code \s+}→" " →
 * lowercase normalizer; CLIP's split regex (removed, inverted) then ByteLevel without prefix space; BPE with the
 * {@code </w>} end-of-word suffix; a BOS … EOS post-processor.
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

    /** What the slow CLIPTokenizer keeps of merges.txt (49152 − 256 − 2 merges after the version line). */
    static final int CLIP_MERGES = 49152 - 256 - 2;

    static final String DEFAULT_BOS = "<|startoftext|>";
    static final String DEFAULT_EOS = "<|endoftext|>";

    /** transformers' CLIPTokenizer split regex (it also keeps the two special tokens whole). */
    static final String SPLIT_REGEX =
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

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
        if (!Files.isDirectory(tokenizerDir)) {
            throw new ModelLoadException("missing tokenizer folder " + tokenizerDir);
        }
        SpecialTokens special = SpecialTokens.read(tokenizerDir);
        checkSides(tokenizerDir.resolve("tokenizer_config.json"));
        int length = maxLength > 0 ? maxLength : resolveMaxLength(tokenizerDir);
        if (length < 2) {
            throw new ModelLoadException(tokenizerDir + ": max length " + length + " leaves no room for BOS and EOS");
        }
        Path json = tokenizerDir.resolve("tokenizer.json");
        JsonObject spec;
        String source;
        if (Files.isRegularFile(json)) {
            spec = readJson(json).getAsJsonObject();
            source = json.toString();
        } else {
            spec = buildTokenizerJson(tokenizerDir, special);
            source = tokenizerDir.resolve("vocab.json") + " + merges.txt";
        }
        long bos = tokenId(spec, special.bos, source);
        long eos = tokenId(spec, special.eos, source);
        long pad = tokenId(spec, special.pad, source);
        addSpecialTokens(spec, special, source);
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

    /** Tokenizes several prompts (each on its own, as {@link #encode(String)}). */
    public List<Encoding> encodeAll(List<String> prompts) {
        List<Encoding> out = new ArrayList<>(prompts.size());
        for (String p : prompts) {
            out.add(encode(p));
        }
        return out;
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
                JsonObject o = readJson(f).getAsJsonObject();
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
        JsonObject o = readJson(tokenizerConfig).getAsJsonObject();
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
            JsonElement m = readJson(cfg).getAsJsonObject().get("model_max_length");
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
                JsonElement m = readJson(te).getAsJsonObject().get("max_position_embeddings");
                if (m != null && m.isJsonPrimitive() && m.getAsJsonPrimitive().isNumber()) {
                    return m.getAsInt();
                }
            }
        }
        return DEFAULT_MAX_LENGTH;
    }

    /** The tokenizer.json that transformers' CLIPTokenizer writes for this vocabulary and these merges. */
    static JsonObject buildTokenizerJson(Path dir, SpecialTokens special) {
        Path vocabFile = dir.resolve("vocab.json");
        Path mergesFile = dir.resolve("merges.txt");
        if (!Files.isRegularFile(vocabFile) || !Files.isRegularFile(mergesFile)) {
            throw new ModelLoadException(dir + ": a CLIP tokenizer needs tokenizer.json, or vocab.json and merges.txt");
        }
        JsonElement vocab = readJson(vocabFile);
        if (!vocab.isJsonObject()) {
            throw new ModelLoadException(vocabFile + ": expected a JSON object of token → id");
        }
        JsonArray merges = readMerges(mergesFile);

        JsonObject model = new JsonObject();
        model.addProperty("type", "BPE");
        model.add("dropout", JsonNull.INSTANCE);
        model.addProperty("unk_token", special.unk);
        model.addProperty("continuing_subword_prefix", "");
        model.addProperty("end_of_word_suffix", "</w>");
        model.addProperty("fuse_unk", false);
        model.addProperty("byte_fallback", false);
        model.addProperty("ignore_merges", false);
        model.add("vocab", vocab);
        model.add("merges", merges);

        JsonArray normalizers = new JsonArray();
        normalizers.add(typed("NFC"));
        JsonObject replace = typed("Replace");
        replace.add("pattern", regex("\\s+"));
        replace.addProperty("content", " ");
        normalizers.add(replace);
        normalizers.add(typed("Lowercase"));
        JsonObject normalizer = typed("Sequence");
        normalizer.add("normalizers", normalizers);

        JsonObject split = typed("Split");
        split.add("pattern", regex(SPLIT_REGEX));
        split.addProperty("behavior", "Removed");
        split.addProperty("invert", true);
        JsonObject byteLevel = typed("ByteLevel");
        byteLevel.addProperty("add_prefix_space", false);
        byteLevel.addProperty("trim_offsets", true);
        byteLevel.addProperty("use_regex", true);
        JsonArray pres = new JsonArray();
        pres.add(split);
        pres.add(byteLevel);
        JsonObject preTokenizer = typed("Sequence");
        preTokenizer.add("pretokenizers", pres);

        JsonObject vocabObj = vocab.getAsJsonObject();
        JsonObject post = typed("RobertaProcessing");
        post.add("sep", pair(special.eos, idIn(vocabObj, special.eos, vocabFile)));
        post.add("cls", pair(special.bos, idIn(vocabObj, special.bos, vocabFile)));
        post.addProperty("trim_offsets", false);
        post.addProperty("add_prefix_space", false);

        JsonObject decoder = typed("ByteLevel");
        decoder.addProperty("add_prefix_space", true);
        decoder.addProperty("trim_offsets", true);
        decoder.addProperty("use_regex", true);

        JsonObject t = new JsonObject();
        t.addProperty("version", "1.0");
        t.add("truncation", JsonNull.INSTANCE);
        t.add("padding", JsonNull.INSTANCE);
        t.add("added_tokens", new JsonArray()); // filled by addSpecialTokens
        t.add("normalizer", normalizer);
        t.add("pre_tokenizer", preTokenizer);
        t.add("post_processor", post);
        t.add("decoder", decoder);
        t.add("model", model);
        return t;
    }

    /**
     * merges.txt as the slow CLIPTokenizer reads it: the "#version" line is skipped and at most
     * {@link #CLIP_MERGES} merges are used; each line is two symbols separated by one space.
     */
    static JsonArray readMerges(Path file) {
        JsonArray out = new JsonArray();
        try (BufferedReader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            String line;
            int lineNo = 0;
            while ((line = r.readLine()) != null && out.size() < CLIP_MERGES) {
                lineNo++;
                if (lineNo == 1 && line.startsWith("#version")) {
                    continue;
                }
                if (line.isBlank()) {
                    continue;
                }
                String[] parts = line.trim().split(" ");
                if (parts.length != 2) {
                    throw new ModelLoadException(file + ": line " + lineNo + " is not a merge of two symbols: '"
                            + line + "'");
                }
                out.add(new JsonPrimitive(parts[0] + " " + parts[1]));
            }
        } catch (IOException e) {
            throw new ModelLoadException("cannot read " + file + ": " + e.getMessage(), e);
        }
        if (out.isEmpty()) {
            throw new ModelLoadException(file + ": no merges");
        }
        return out;
    }

    /** Registers BOS, EOS, UNK and PAD as special added tokens where the spec does not already have them. */
    private static void addSpecialTokens(JsonObject spec, SpecialTokens special, String source) {
        JsonArray added = spec.has("added_tokens") && spec.get("added_tokens").isJsonArray()
                ? spec.getAsJsonArray("added_tokens") : new JsonArray();
        Set<String> present = new LinkedHashSet<>();
        for (JsonElement e : added) {
            present.add(e.getAsJsonObject().get("content").getAsString());
        }
        for (String token : new String[] {special.bos, special.eos, special.unk, special.pad}) {
            if (present.add(token)) {
                JsonObject a = new JsonObject();
                a.addProperty("id", tokenId(spec, token, source));
                a.addProperty("content", token);
                a.addProperty("single_word", false);
                a.addProperty("lstrip", false);
                a.addProperty("rstrip", false);
                a.addProperty("normalized", false);
                a.addProperty("special", true);
                added.add(a);
            }
        }
        spec.add("added_tokens", added);
    }

    /** The id of {@code token}: an added token's id, else the BPE vocabulary's. */
    private static long tokenId(JsonObject spec, String token, String source) {
        if (spec.has("added_tokens") && spec.get("added_tokens").isJsonArray()) {
            for (JsonElement e : spec.getAsJsonArray("added_tokens")) {
                JsonObject a = e.getAsJsonObject();
                if (token.equals(a.get("content").getAsString())) {
                    return a.get("id").getAsLong();
                }
            }
        }
        JsonObject model = spec.getAsJsonObject("model");
        if (model == null || !model.has("vocab") || !model.get("vocab").isJsonObject()) {
            throw new ModelLoadException(source + ": not a BPE tokenizer with a vocabulary");
        }
        JsonElement id = model.getAsJsonObject("vocab").get(token);
        if (id == null) {
            throw new ModelLoadException(source + ": special token '" + token + "' is not in the vocabulary");
        }
        return id.getAsLong();
    }

    private static long idIn(JsonObject vocab, String token, Path file) {
        JsonElement id = vocab.get(token);
        if (id == null) {
            throw new ModelLoadException(file + ": special token '" + token + "' is not in the vocabulary");
        }
        return id.getAsLong();
    }

    private static JsonObject typed(String type) {
        JsonObject o = new JsonObject();
        o.addProperty("type", type);
        return o;
    }

    private static JsonObject regex(String pattern) {
        JsonObject o = new JsonObject();
        o.addProperty("Regex", pattern);
        return o;
    }

    private static JsonArray pair(String token, long id) {
        JsonArray a = new JsonArray();
        a.add(token);
        a.add(id);
        return a;
    }

    private static JsonElement readJson(Path file) {
        try {
            return JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException | RuntimeException e) {
            throw new ModelLoadException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}
