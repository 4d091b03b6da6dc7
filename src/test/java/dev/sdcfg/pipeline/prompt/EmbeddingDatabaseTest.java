package dev.sdcfg.pipeline.prompt;

import dev.sdcfg.model.clip.ClipTokenizer;
import dev.sdcfg.model.ti.TextualInversionFile;
import dev.sdcfg.testutil.Fixtures;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * What the A1111 golden (A1111TextualInversionParityTest) does not pin down: among names that tokenize alike the
 * first registered wins (A1111's stable sort by length), the longest name wins whatever the registration order, a
 * name that gives no token is not registered, and files are read only when matched.
 */
class EmbeddingDatabaseTest {

    private static ClipTokenizer tokenizer;

    @BeforeAll
    static void open() throws IOException {
        tokenizer = ClipTokenizer.load(Fixtures.model().resolve("tokenizer"));
    }

    @AfterAll
    static void close() {
        tokenizer.close();
    }

    private static String found(EmbeddingDatabase db, String text) {
        long[] ids = tokenizer.tokenIds(text);
        EmbeddingDatabase.Match m = db.find(ids, 0);
        return m == null ? null : m.embedding().name() + "/" + m.lengthInTokens();
    }

    @Test
    void registrationOrderLengthAndLaziness() {
        List<String> read = new ArrayList<>();
        java.util.function.Function<String, TextualInversionFile> reader = n -> {
            read.add(n);
            throw new EmbeddingDatabase.UnusableEmbeddingException("not read in this test");
        };
        EmbeddingDatabase db = new EmbeddingDatabase(tokenizer, List.of("Neon", "neon", "neon city", " "), reader);
        assertEquals("Neon/1", found(db, "NEON lights"), "names that tokenize alike: the first registered");
        assertEquals("neon city/2", found(db, "neon  City at night"), "the longest name first");
        EmbeddingDatabase reversed = new EmbeddingDatabase(tokenizer, List.of("neon city", "neon"), reader);
        assertEquals("neon city/2", found(reversed, "neon city"));
        assertEquals("neon/1", found(reversed, "neon"));
        assertNull(found(db, "neons"), "a longer word is another token");
        assertEquals(List.of(), read, "nothing is read before a chunker asks for the vectors");
    }
}
