package dev.sdcfg.pipeline;

import dev.sdcfg.guidance.GuidanceSpec;
import dev.sdcfg.model.library.ModelLibrary;
import dev.sdcfg.pipeline.image.PngEncoder;
import dev.sdcfg.runtime.ComputeContext;
import dev.sdcfg.testutil.Fixtures;
import dev.sdcfg.testutil.LdmFixture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A models folder holding the tiny model twice, as a diffusers folder ("folder") and as a single-file checkpoint
 * ("tiny"): the listing, names and hashes, links leaving the folder, and the switcher loading one at a time.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ModelsFolderTest {

    private Path dir;
    private Path outside;

    @BeforeAll
    void makeFolder() throws IOException {
        dir = Files.createTempDirectory("models-");
        outside = Files.createTempDirectory("outside-");
        Path folder = dir.resolve("folder");
        try (var s = Files.walk(Fixtures.model())) {
            for (Path p : s.toList()) {
                Path t = folder.resolve(Fixtures.model().relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
        LdmFixture.write(dir, "tiny");
        Files.write(dir.resolve("old.ckpt"), new byte[] {(byte) 0x80, 2});          // pickle: not listed
        Files.write(dir.resolve("notes.txt"), new byte[] {1});                      // not a model
        LdmFixture.write(outside, "elsewhere");
        Files.createSymbolicLink(dir.resolve("linked.safetensors"), outside.resolve("elsewhere.safetensors"));
        Files.createSymbolicLink(dir.resolve("linked-folder"), Fixtures.model());   // a folder outside: skipped
    }

    @AfterAll
    void removeFolder() throws IOException {
        for (Path root : new Path[] {dir, outside}) {
            try (var s = Files.walk(root)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }

    @Test
    void listsFoldersAndSingleFilesButNoPicklesNorLinksLeavingTheFolder() throws Exception {
        ModelLibrary lib = new ModelLibrary(dir);
        List<ModelLibrary.Entry> all = lib.list();
        assertEquals(List.of("folder", "tiny"), all.stream().map(ModelLibrary.Entry::name).toList());
        ModelLibrary.Entry folder = all.get(0);
        ModelLibrary.Entry tiny = all.get(1);
        assertEquals(ModelLibrary.DIFFUSERS, folder.format());
        assertEquals(ModelLibrary.SINGLE_FILE, tiny.format());
        assertEquals("SD 1.x", tiny.family());
        assertEquals(Files.size(dir.resolve("tiny.safetensors")), tiny.sizeBytes());
        assertTrue(folder.sizeBytes() > 10_000_000L, "folder size " + folder.sizeBytes());
        String sha = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                .digest(Files.readAllBytes(dir.resolve("tiny.safetensors"))));
        assertEquals(sha, tiny.sha256());
        assertEquals(sha.substring(0, 10), tiny.shortHash()); // A1111's shorthash
        assertNull(folder.sha256());
        assertTrue(lib.find("../tiny").isEmpty());
        assertTrue(lib.find("linked").isEmpty());
        assertTrue(lib.find("tiny.safetensors").isEmpty());
        assertTrue(lib.find("tiny").isPresent());
    }

    @Test
    void theSwitcherLoadsOneModelAtATimeAndSwapsOnDemand() {
        ModelLibrary lib = new ModelLibrary(dir);
        AtomicReference<String> resident = new AtomicReference<>();
        List<Long> swaps = new ArrayList<>();
        GenerationRequest req = new GenerationRequest("a red door", "", 64, 64, 3, "euler", null,
                GuidanceSpec.parse("7.5"), 9L, 1);
        try (ModelSwitcher s = new ModelSwitcher(lib, "folder", ComputeContext.cpu(), PipelineOptions.defaults(),
                resident, swaps::add)) {
            assertEquals("folder", resident.get());
            int[] a = pixels(s.generate(req, GenerationListener.NONE));
            assertTrue(swaps.isEmpty());
            int[] b = pixels(s.generate(req.withModel("tiny"), GenerationListener.NONE));
            assertEquals("tiny", resident.get());
            assertEquals(1, swaps.size());
            assertEquals("tiny", s.modelInfo().id());
            int[] c = pixels(s.generate(req.withModel("folder"), GenerationListener.NONE));
            assertEquals(2, swaps.size());
            assertEquals("folder", resident.get());
            // the same weights either way, and nothing drifts across swaps
            assertArrayEquals(a, b);
            assertArrayEquals(a, c);
            assertThrows(RuntimeException.class, () -> s.generate(req.withModel("gone"), GenerationListener.NONE));
            assertNull(resident.get());
            assertFalse(s.modelInfo() == null);
            assertArrayEquals(a, pixels(s.generate(req, GenerationListener.NONE))); // loads the default again
        }
    }

    private static int[] pixels(GenerationResult r) {
        BufferedImage img = PngEncoder.decode(r.images().get(0).png());
        return img.getRGB(0, 0, img.getWidth(), img.getHeight(), null, 0, img.getWidth());
    }
}
