package dev.sdcfg.model;

import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class EmbeddedDemoModelTest {

    @Test
    void fileListMatchesTheResources() throws IOException {
        Path root = Fixtures.resource(EmbeddedDemoModel.RESOURCE_ROOT);
        TreeSet<String> onDisk;
        try (Stream<Path> s = Files.walk(root)) {
            onDisk = s.filter(Files::isRegularFile).map(p -> root.relativize(p).toString().replace('\\', '/'))
                    .collect(Collectors.toCollection(TreeSet::new));
        }
        assertEquals(onDisk, new TreeSet<>(EmbeddedDemoModel.FILES), "EmbeddedDemoModel.FILES must list every demo-model resource");
    }

    @Test
    void extractsAnOpenableDiffusersFolder(@TempDir Path dir) throws IOException {
        EmbeddedDemoModel.extractTo(dir);
        Path root = Fixtures.resource(EmbeddedDemoModel.RESOURCE_ROOT);
        for (String f : EmbeddedDemoModel.FILES) {
            assertArrayEquals(Files.readAllBytes(root.resolve(f)), Files.readAllBytes(dir.resolve(f)), f);
        }
        ModelFolder folder = ModelFolder.open(dir);
        assertEquals("StableDiffusionPipeline", folder.pipelineClass());
        assertEquals("UNet2DConditionModel", folder.className(ModelFolder.UNET));
    }

    @Test
    void extractMakesAFreshTemporaryFolder() {
        Path a = EmbeddedDemoModel.extract();
        Path b = EmbeddedDemoModel.extract();
        assertEquals(List.of(true, true), List.of(Files.isRegularFile(a.resolve("model_index.json")),
                Files.isRegularFile(b.resolve("unet/config.json"))));
        assertEquals(false, a.equals(b));
    }
}
