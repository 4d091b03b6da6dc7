package dev.sdcfg.pipeline;

import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.model.clip.ClipTextModel;
import dev.sdcfg.model.clip.ClipTokenizer;
import dev.sdcfg.model.library.ModelFolderScan;
import dev.sdcfg.model.ti.TextualInversionFile;
import dev.sdcfg.model.ti.TextualInversionTokens;
import dev.sdcfg.pipeline.prompt.PromptSyntax;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * The textual-inversion embeddings of sd.embeddings.dir a request uses: those of the folder listing whose names occur
 * in its prompt or negative prompt (as diffusers' tokenizer matches added tokens: anywhere in the text, case-sensitive),
 * read per request and turned into diffusers' token semantics ({@link TextualInversionTokens}). Only names from the
 * listing are read (the scan skips links leaving the folder). Embeddings apply under {@code prompt_syntax: plain}, on
 * SDXL too (clip_l / clip_g, one table per encoder); in A1111 syntax (its own word-level embedding matching and chunk
 * counting are not implemented), with a file that cannot be read, one for the other family (SDXL or not) or one whose
 * width is not the text encoder's, the request is refused naming the embedding. In A1111 syntax only a name standing as a word (no letter, digit or _ beside it) counts, as
 * A1111 matches embeddings by whole tokens; inside a word it stays text, as without the folder.
 */
final class PromptEmbeddings {

    private PromptEmbeddings() {
    }

    /**
     * The tokens for {@code r} on an SD 1.x/2.x model, or null when it names no embedding.
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
     * The tokens for {@code r} on an SDXL model, one per text encoder ({@code clip_l} for the first, {@code clip_g}
     * for text_encoder_2, each appended to its own vocabulary as diffusers' two documented load_textual_inversion
     * calls do), or null when it names no embedding.
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

    /** The named embeddings, read and checked against the model (widths {@code width2} of SDXL's clip_g). */
    private static List<TextualInversionFile> used(Supplier<List<ModelFolderScan.Entry>> folder, GenerationRequest r,
                                                   boolean sdxl, int width, int width2) {
        if (folder == null) {
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
            if (r.promptSyntax() != PromptSyntax.PLAIN && !asWord(r.prompt(), e.name()) && !asWord(negative, e.name())) {
                continue; // A1111 matches embeddings as whole tokens: a name inside a word is just text there
            }
            if (r.promptSyntax() != PromptSyntax.PLAIN) {
                throw new InvalidRequestException(field, "the textual-inversion embedding '" + e.name()
                        + "' is named: embeddings are applied with \"prompt_syntax\": \"plain\" only for now");
            }
            TextualInversionFile f;
            try {
                f = TextualInversionFile.read(e.path());
            } catch (ModelLoadException ex) {
                throw new InvalidRequestException(field, "the textual-inversion embedding '" + e.name()
                        + "' cannot be read (GET /v1/embeddings says why)");
            }
            if (f.isSdxl() != sdxl) {
                throw new InvalidRequestException(field, "the textual-inversion embedding '" + e.name() + "' is "
                        + (f.isSdxl() ? "an SDXL embedding (clip_l and clip_g), but this model is not SDXL"
                        : "for one text encoder (SD 1.x/2.x), but this SDXL model needs clip_l and clip_g tables"));
            }
            if (f.dim() != width || (sdxl && f.clipG().dim() != width2)) {
                throw new InvalidRequestException(field, "the textual-inversion embedding '" + e.name() + "' is "
                        + (sdxl ? f.dim() + " (clip_l) and " + f.clipG().dim() + " (clip_g)" : f.dim())
                        + " wide, but this model's text encoder" + (sdxl ? "s are " + width + " and " + width2
                        : " is " + width) + " wide (an embedding for another model family)");
            }
            used.add(f);
        }
        return used;
    }

    /** {@code name} in {@code text} with no letter, digit or underscore right before or after it. */
    static boolean asWord(String text, String name) {
        for (int i = text.indexOf(name); i >= 0; i = text.indexOf(name, i + 1)) {
            int end = i + name.length();
            if ((i == 0 || !wordChar(text.charAt(i - 1))) && (end == text.length() || !wordChar(text.charAt(end)))) {
                return true;
            }
        }
        return false;
    }

    private static boolean wordChar(char c) {
        return Character.isLetterOrDigit(c) || c == '_';
    }
}
