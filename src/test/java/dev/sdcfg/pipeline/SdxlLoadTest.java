package dev.sdcfg.pipeline;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.sdcfg.model.ModelFolder;
import dev.sdcfg.model.ModelLoadException;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Loading SDXL folders: the tiny SDXL base-layout folder as it is; model_index.json's force_zeros_for_empty_prompt;
 * a refiner or a folder without text_encoder_2 refused naming what is missing; a text_time UNet under a
 * StableDiffusionPipeline refused; the memory planner counting both text encoders.
 */
class SdxlLoadTest {

    private static Path sdxl() {
        return Fixtures.resource("parity-extra/sdxl/model");
    }

    /** A copy of the tiny SDXL folder with model_index.json edited. */
    private static Path copyWithIndex(Path dir, Consumer<JsonObject> edit) throws IOException {
        try (Stream<Path> files = Files.walk(sdxl())) {
            for (Path f : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                Path t = dir.resolve(sdxl().relativize(f).toString());
                Files.createDirectories(t.getParent());
                Files.copy(f, t);
            }
        }
        Path index = dir.resolve("model_index.json");
        JsonObject o = JsonParser.parseString(Files.readString(index)).getAsJsonObject();
        edit.accept(o);
        Files.writeString(index, o.toString(), StandardCharsets.UTF_8);
        return dir;
    }

    @Test
    void sdxlFolderOpensAsIs() {
        ModelFolder f = ModelFolder.open(sdxl());
        assertTrue(f.isXl());
        assertTrue(f.forceZerosForEmptyPrompt());
    }

    @Test
    void forceZerosIsReadFromModelIndex(@TempDir Path dir) throws IOException {
        Path d = copyWithIndex(dir, o -> o.addProperty("force_zeros_for_empty_prompt", false));
        assertFalse(ModelFolder.open(d).forceZerosForEmptyPrompt());
    }

    @Test
    void refinerIsRefusedWithAClearMessage(@TempDir Path dir) throws IOException {
        Path d = copyWithIndex(dir, o -> o.addProperty("_class_name", "StableDiffusionXLImg2ImgPipeline"));
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> ModelFolder.open(d));
        assertTrue(e.getMessage().contains("refiner") && e.getMessage().contains("model_index.json"), e.getMessage());
    }

    @Test
    void missingSecondEncoderIsRefused(@TempDir Path dir) throws IOException {
        Path d = copyWithIndex(dir, o -> o.add("text_encoder_2", JsonParser.parseString("[null, null]")));
        ModelLoadException e = assertThrows(ModelLoadException.class, () -> ModelFolder.open(d));
        assertTrue(e.getMessage().contains("'text_encoder_2'"), e.getMessage());
    }

    @Test
    void textTimeUnetNeedsTheXlPipeline(@TempDir Path dir) throws IOException {
        Path d = copyWithIndex(dir, o -> {
            o.addProperty("_class_name", "StableDiffusionPipeline");
            o.remove("text_encoder_2");
            o.remove("tokenizer_2");
            o.remove("force_zeros_for_empty_prompt");
        });
        ModelLoadException e = assertThrows(ModelLoadException.class,
                () -> StableDiffusionPipeline.load(d, ComputeContext.cpu(), PipelineOptions.defaults()).close());
        assertTrue(e.getMessage().contains("'addition_embed_type'"), e.getMessage());
    }

    @Test
    void sdModelsRefuseSizeConditioning() {
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(Fixtures.model(), ComputeContext.cpu(),
                PipelineOptions.defaults())) {
            GenerationRequest r = new GenerationRequest("a", "", 64, 64, 2, null, null, null, 1, 1,
                    SizeConditions.defaults(64, 64));
            InvalidRequestException e = assertThrows(InvalidRequestException.class, () -> pipe.validate(r));
            assertEquals("original_size", e.field());
            pipe.validate(new GenerationRequest("a", "", 64, 64, 2, null, null, null, 1, 1));
        }
    }

    @Test
    void memoryPlanCountsBothTextEncoders() {
        try (StableDiffusionPipeline pipe = StableDiffusionPipeline.load(sdxl(), ComputeContext.cpu(),
                PipelineOptions.defaults())) {
            pipe.calibrateMemory();
            long weights = dev.sdcfg.runtime.MemoryBudget.bytesOf(pipe.unet().manager()) + pipe.vae().weightBytes()
                    + pipe.textEncoder().weightBytes();
            long withSecond = pipe.memoryPlanner().footprint().weightBytes();
            assertTrue(withSecond > weights, "text_encoder_2's weights are counted");
            GenerationRequest r = new GenerationRequest("a", "", 64, 64, 2, null, null, null, 1, 1);
            MemoryPlan plan = pipe.memoryPlan(r);
            assertTrue(plan.fits(), plan.describe());
            assertEquals("sdxl", pipe.family());
        }
    }
}
