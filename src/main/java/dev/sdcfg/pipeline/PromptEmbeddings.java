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
 * listing are read (the scan skips links leaving the folder). Embeddings apply under {@code prompt_syntax: plain}; in
 * A1111 syntax (its own word-level embedding matching and chunk counting are not implemented), on SDXL (two text
 * encoders), with a file that cannot be read or one whose width is not the text encoder's, the request is refused
 * naming the embedding. In A1111 syntax only a name standing as a word (no letter, digit or _ beside it) counts, as
 * A1111 matches embeddings by whole tokens; inside a word it stays text, as without the folder.
 */
final class PromptEmbeddings {

    private PromptEmbeddings() {
    }

    /**
     * The tokens for {@code r}, or null when it names no embedding.
     *
     * @throws InvalidRequestException when an embedding it names cannot be used
     */
    static TextualInversionTokens forRequest(Supplier<List<ModelFolderScan.Entry>> folder, GenerationRequest r,
                                             boolean sdxl, ClipTokenizer tokenizer, ClipTextModel textEncoder) {
        if (folder == null) {
            return null;
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
            if (sdxl) {
                throw new InvalidRequestException(field, "the textual-inversion embedding '" + e.name()
                        + "' is named, but embeddings on SDXL models are not supported yet");
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
            if (f.dim() != textEncoder.hiddenSize()) {
                throw new InvalidRequestException(field, "the textual-inversion embedding '" + e.name() + "' is "
                        + f.dim() + " wide, but this model's text encoder is " + textEncoder.hiddenSize()
                        + " wide (an embedding for another model family)");
            }
            used.add(f);
        }
        return used.isEmpty() ? null
                : new TextualInversionTokens(tokenizer, textEncoder.vocabSize(), textEncoder.hiddenSize(), used);
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
