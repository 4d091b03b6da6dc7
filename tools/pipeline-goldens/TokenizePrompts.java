import dev.sdcfg.model.clip.ClipTokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One-off helper of gen_pipeline.py: tokenizes prompts with OUR ClipTokenizer (whose parity with transformers'
 * CLIPTokenizer is tested elsewhere) so that the Python side needs no tokenizer; the ids are stored in the golden
 * and Sd2PipelineParityTest asserts our tokenizer still produces them.
 *
 * <p>usage (single-file source launch, classpath = target/classes + the project's dependencies):
 * {@code java -cp CP tools/pipeline-goldens/TokenizePrompts.java TOKENIZER_DIR OUT.json KEY=TEXT ...}
 * writes {"max_length": 77, "pad_id": 0, "ids": {KEY: {"text": TEXT, "ids": [...]}}}.
 */
public class TokenizePrompts {
    public static void main(String[] args) throws Exception {
        try (ClipTokenizer tok = ClipTokenizer.load(Path.of(args[0]), 0)) {
            List<String> parts = new ArrayList<>();
            for (int i = 2; i < args.length; i++) {
                int eq = args[i].indexOf('=');
                String key = args[i].substring(0, eq);
                String text = args[i].substring(eq + 1);
                long[] ids = tok.encode(text).ids();
                StringBuilder sb = new StringBuilder();
                for (long id : ids) {
                    sb.append(sb.length() == 0 ? "" : ", ").append(id);
                }
                parts.add("  \"" + key + "\": {\"text\": \"" + text.replace("\\", "\\\\").replace("\"", "\\\"")
                        + "\", \"ids\": [" + sb + "]}");
            }
            String json = "{\"max_length\": " + tok.maxLength() + ", \"pad_id\": " + tok.padId() + ", \"eos_id\": "
                    + tok.eosId() + ",\n\"ids\": {\n" + String.join(",\n", parts) + "\n}}\n";
            Files.writeString(Path.of(args[1]), json);
            System.out.print(json);
        }
    }
}
