package dev.sdcfg.pipeline;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.clip.ClipTextModel;
import dev.sdcfg.model.clip.ClipTokenizer;
import dev.sdcfg.model.library.ModelFolderScan;
import dev.sdcfg.model.ti.TextualInversionFile;
import dev.sdcfg.model.ti.TextualInversionTokens;
import dev.sdcfg.pipeline.prompt.EmbeddingDatabase;
import dev.sdcfg.pipeline.prompt.PromptChunker;
import dev.sdcfg.pipeline.prompt.PromptSyntax;
import dev.sdcfg.pipeline.prompt.WeightedPromptEncoder;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The textual-inversion embeddings of sd.embeddings.dir a request uses, read per request from the folder listing
 * (the scan skips links leaving the folder), in the semantics of the request's {@code prompt_syntax}:
 * <ul>
 * <li>{@code plain}: diffusers' ({@link TextualInversionTokens}): the names that occur in the prompt or negative
 * prompt as diffusers' tokenizer matches added tokens (anywhere in the text, case-sensitive), on SDXL one table per
 * encoder (clip_l / clip_g);</li>
 * <li>{@code a1111}: A1111's ({@link EmbeddingDatabase}): every name of the folder registered by its token ids and
 * found by {@link dev.sdcfg.pipeline.prompt.PromptChunker} as whole tokens, its file read on its first match.</li>
 * </ul>
 * A named embedding whose file cannot be read, that is for the other family (SDXL or not) or whose width is not the
 * text encoder's is refused naming it (A1111 would skip such a file at load and read the name as text).
 */
final class PromptEmbeddings {

    private PromptEmbeddings() {
    }

    /**
     * The tokens for {@code r} on an SD 1.x/2.x model in plain syntax, or null when it names no embedding (or is in
     * A1111 syntax, see {@link #database}).
     *
     * @throws InvalidRequestException when an embedding it names cannot be used
     */
    static TextualInversionTokens forRequest(Supplier<List<ModelFolderScan.Entry>> folder, GenerationRequest r,
                                             ClipTokenizer tokenizer, ClipTextModel textEncoder) {
        List<TextualInversionFile> used = used(folder, r, false, textEncoder.hiddenSize(), 0);
        return used.isEmpty() ? null
                : new TextualInversionTokens(tokenizer, textEncoder.vocabSize(), textEncoder.hiddenSize(), used);
    }

    /**
     * The tokens for {@code r} on an SDXL model in plain syntax, one per text encoder ({@code clip_l} for the first,
     * {@code clip_g} for text_encoder_2, each appended to its own vocabulary as diffusers' two documented
     * load_textual_inversion calls do), or null when it names no embedding.
     *
     * @throws InvalidRequestException when an embedding it names cannot be used
     */
    static TextualInversionTokens[] forRequestXl(Supplier<List<ModelFolderScan.Entry>> folder, GenerationRequest r,
                                                 ClipTokenizer tokenizer, ClipTextModel textEncoder,
                                                 ClipTokenizer tokenizer2, ClipTextModel textEncoder2) {
        List<TextualInversionFile> used = used(folder, r, true, textEncoder.hiddenSize(), textEncoder2.hiddenSize());
        if (used.isEmpty()) {
            return null;
        }
        return new TextualInversionTokens[] {
            new TextualInversionTokens(tokenizer, textEncoder.vocabSize(), textEncoder.hiddenSize(), used),
            new TextualInversionTokens(tokenizer2, textEncoder2.vocabSize(), textEncoder2.hiddenSize(),
                    used.stream().map(TextualInversionFile::clipG).toList())};
    }

    /**
     * A1111's embedding database for a request in A1111 syntax: every name of the folder, registered by
     * {@code tokenizer}'s ids (on SDXL the first tokenizer's, as A1111's conditioner tokenizes names with its first
     * embedder, for both encoders), each file read and checked against the model (widths {@code width}, SDXL's
     * clip_g {@code width2}) on its first match; null without a folder or in plain syntax.
     */
    static EmbeddingDatabase database(Supplier<List<ModelFolderScan.Entry>> folder, GenerationRequest r,
                                      ClipTokenizer tokenizer, boolean sdxl, int width, int width2) {
        if (folder == null || r.promptSyntax() == PromptSyntax.PLAIN) {
            return null;
        }
        Map<String, ModelFolderScan.Entry> byName = new LinkedHashMap<>();
        for (ModelFolderScan.Entry e : folder.get()) {
            byName.put(e.name(), e);
        }
        return new EmbeddingDatabase(tokenizer, List.copyOf(byName.keySet()), name -> {
            try {
                return readChecked(byName.get(name), sdxl, width, width2);
            } catch (IllegalArgumentException ex) {
                throw new EmbeddingDatabase.UnusableEmbeddingException(ex.getMessage());
            }
        });
    }

    /**
     * A1111's SD 1.x/2.x chunk encoder ({@code encode_with_transformers}, final layer norm after {@code clipSkip}
     * skipped layers): a chunk without embeddings is its ids through {@code encoder}; a chunk with some looks their
     * vectors up past the vocabulary ({@link PromptChunker#lookup}), which is what {@code EmbeddingsWithFixes}'
     * overwrite of the id-0 placeholders gives.
     */
    static WeightedPromptEncoder.ChunkEncoder chunkEncoder(ClipTextModel encoder, PromptChunker.Chunks chunks,
                                                           int clipSkip) {
        return (ids, i) -> {
            PromptChunker.Lookup lookup = PromptChunker.lookup(chunks, i, encoder.vocabSize(), t -> t);
            if (lookup == null) {
                return encoder.encode(ids, clipSkip);
            }
            NDArray[] arrays = arrays(lookup, encoder, ids.getManager());
            return encoder.encode(arrays[0], clipSkip, arrays[1]);
        };
    }

    /**
     * A chunk's {@link PromptChunker.Lookup} as arrays on {@code m}: the lookup ids [1, 77] and the rows
     * [rowCount, hidden] in the encoder's dtype (from float32-exact values, so fp16 rounds once, as torch's cast).
     */
    static NDArray[] arrays(PromptChunker.Lookup lookup, ClipTextModel encoder, NDManager m) {
        NDArray ids = m.create(lookup.ids(), new Shape(1, lookup.ids().length));
        NDArray rows = m.create(lookup.rows(), new Shape(lookup.rowCount(), encoder.hiddenSize()));
        DataType dt = encoder.context().dtype();
        return new NDArray[] {ids, dt == DataType.FLOAT64 ? rows : rows.toType(dt, false)};
    }

    /** The named embeddings (plain syntax), read and checked against the model. */
    private static List<TextualInversionFile> used(Supplier<List<ModelFolderScan.Entry>> folder, GenerationRequest r,
                                                   boolean sdxl, int width, int width2) {
        if (folder == null || r.promptSyntax() != PromptSyntax.PLAIN) {
            return List.of();
        }
        String negative = r.negativePrompt() == null ? "" : r.negativePrompt();
        List<TextualInversionFile> used = new ArrayList<>();
        for (ModelFolderScan.Entry e : folder.get()) {
            String field = r.prompt().contains(e.name()) ? "prompt" : negative.contains(e.name()) ? "negative_prompt"
                    : null;
            if (field == null) {
                continue;
            }
            try {
                used.add(readChecked(e, sdxl, width, width2));
            } catch (IllegalArgumentException ex) {
                throw new InvalidRequestException(field, ex.getMessage());
            }
        }
        return used;
    }

    /** {@code e}'s file, read; throws IllegalArgumentException saying why it cannot be used on this model. */
    private static TextualInversionFile readChecked(ModelFolderScan.Entry e, boolean sdxl, int width, int width2) {
        TextualInversionFile f;
        try {
            f = TextualInversionFile.read(e.path());
        } catch (ModelLoadException ex) {
            throw new IllegalArgumentException("the textual-inversion embedding '" + e.name()
                    + "' cannot be read (GET /v1/embeddings says why)");
        }
        if (f.isSdxl() != sdxl) {
            throw new IllegalArgumentException("the textual-inversion embedding '" + e.name() + "' is "
                    + (f.isSdxl() ? "an SDXL embedding (clip_l and clip_g), but this model is not SDXL"
                    : "for one text encoder (SD 1.x/2.x), but this SDXL model needs clip_l and clip_g tables"));
        }
        if (f.dim() != width || (sdxl && f.clipG().dim() != width2)) {
            throw new IllegalArgumentException("the textual-inversion embedding '" + e.name() + "' is "
                    + (sdxl ? f.dim() + " (clip_l) and " + f.clipG().dim() + " (clip_g)" : f.dim())
                    + " wide, but this model's text encoder" + (sdxl ? "s are " + width + " and " + width2
                    : " is " + width) + " wide (an embedding for another model family)");
        }
        return f;
    }
}
