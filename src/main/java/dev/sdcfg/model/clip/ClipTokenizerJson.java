package dev.sdcfg.model.clip;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import dev.sdcfg.model.ModelLoadException;

import java.io.BufferedReader;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * The HuggingFace tokenizers {@code tokenizer.json} of a CLIP tokenizer: {@link #build} assembles the one
 * transformers' {@code CLIPTokenizer} writes from {@code vocab.json} + {@code merges.txt} (most SD folders hold only
 * those): NFC → {@code \s+}→" " → lowercase normalizer; CLIP's split regex (removed, inverted) then ByteLevel
 * without prefix space; BPE with the {@code </w>} end-of-word suffix; a BOS … EOS post-processor.
 * {@link #addSpecialTokens} registers the special tokens in any such spec, built or read from the folder.
 */
final class ClipTokenizerJson {

    /** What the slow CLIPTokenizer keeps of merges.txt (49152 − 256 − 2 merges after the version line). */
    static final int CLIP_MERGES = 49152 - 256 - 2;

    /** transformers' CLIPTokenizer split regex (it also keeps the two special tokens whole). */
    static final String SPLIT_REGEX =
            "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";

    private ClipTokenizerJson() {
    }

    /** The tokenizer.json that transformers' CLIPTokenizer writes for the vocabulary and merges in {@code dir}. */
    static JsonObject build(Path dir, ClipTokenizer.SpecialTokens special) {
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
        model.addProperty("unk_token", special.unk());
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
        post.add("sep", pair(special.eos(), idIn(vocabObj, special.eos(), vocabFile)));
        post.add("cls", pair(special.bos(), idIn(vocabObj, special.bos(), vocabFile)));
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
    static void addSpecialTokens(JsonObject spec, ClipTokenizer.SpecialTokens special, String source) {
        JsonArray added = spec.has("added_tokens") && spec.get("added_tokens").isJsonArray()
                ? spec.getAsJsonArray("added_tokens") : new JsonArray();
        Set<String> present = new LinkedHashSet<>();
        for (JsonElement e : added) {
            present.add(e.getAsJsonObject().get("content").getAsString());
        }
        for (String token : new String[] {special.bos(), special.eos(), special.unk(), special.pad()}) {
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
    static long tokenId(JsonObject spec, String token, String source) {
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

    static JsonElement readJson(Path file) {
        try {
            return JsonParser.parseString(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IOException | RuntimeException e) {
            throw new ModelLoadException("cannot read " + file + ": " + e.getMessage(), e);
        }
    }
}
