import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.guidance.GuidanceSpec;
import dev.sdcfg.pipeline.GenerationInfotext;
import dev.sdcfg.pipeline.GenerationRequest;
import dev.sdcfg.pipeline.SamplerOverrides;
import dev.sdcfg.pipeline.prompt.PromptSyntax;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * One-off helper of gen_infotext.py: writes the infotext OUR GenerationInfotext makes for each "written" case of
 * infotext_cases.json, so that A1111's own parse_generation_parameters can read it.
 *
 * <p>usage (single-file source launch, classpath = target/classes + the project's dependencies):
 * {@code java -cp CP tools/a1111-goldens/WriteInfotexts.java infotext_cases.json OUT.json} writes {NAME: TEXT}.
 */
public class WriteInfotexts {
    public static void main(String[] args) throws Exception {
        JsonObject cases = JsonParser.parseString(Files.readString(Path.of(args[0]))).getAsJsonObject();
        JsonObject out = new JsonObject();
        for (JsonElement e : cases.getAsJsonArray("written")) {
            JsonObject c = e.getAsJsonObject();
            out.addProperty(c.get("name").getAsString(), text(c));
        }
        Gson gson = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create();
        Files.writeString(Path.of(args[1]), gson.toJson(out) + "\n", StandardCharsets.UTF_8);
    }

    /** The case's request and infotext; GenerationInfotextParityTest builds them the same way. */
    static String text(JsonObject c) {
        return GenerationInfotext.write(request(c), c.get("seed").getAsLong(), c.get("model").getAsString(),
                str(c, "model_hash"), c.get("default_sampler").getAsString(), c.get("clip_skip").getAsInt());
    }

    static GenerationRequest request(JsonObject c) {
        return new GenerationRequest(c.get("prompt").getAsString(), c.get("negative_prompt").getAsString(),
                c.get("width").getAsInt(), c.get("height").getAsInt(), c.get("steps").getAsInt(), str(c, "sampler"),
                SamplerOverrides.parse(str(c, "sampler_options")), GuidanceSpec.parse(c.get("guidance").getAsString()),
                c.get("seed").getAsLong(), 1, PromptSyntax.of(c.has("prompt_syntax") ? str(c, "prompt_syntax") : "a1111"));
    }

    static String str(JsonObject c, String k) {
        return c.has(k) && !c.get(k).isJsonNull() ? c.get(k).getAsString() : null;
    }
}
