package dev.sdcfg.jobs;

import dev.sdcfg.model.library.ModelFolderScan;
import dev.sdcfg.model.library.ModelLibrary;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.inject.Inject;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The models folder ({@code sd.models.dir}) as the service sees it: the listing for GET /v1/models, the check of a
 * request's {@code model} at submission (unknown → 422), the default model, and the name of the model resident on
 * this replica's worker (set by the {@code ModelSwitcher}, read by the in-memory queue's preference). Without a
 * models folder nothing changes: {@code model} is ignored as before.
 */
@ApplicationScoped
public class ModelCatalog {

    @Inject
    ServiceConfig config;

    private final AtomicReference<String> resident = new AtomicReference<>();
    private volatile ModelLibrary library;

    /** The models folder, when one is configured. */
    public Optional<ModelLibrary> library() {
        Optional<String> dir = config.models().dir().map(String::trim).filter(s -> !s.isEmpty());
        if (dir.isEmpty()) {
            return Optional.empty();
        }
        ModelLibrary l = library;
        if (l == null) {
            l = new ModelLibrary(Path.of(dir.get()));
            library = l;
        }
        return Optional.of(l);
    }

    public boolean enabled() {
        return config.models().dir().map(String::trim).filter(s -> !s.isEmpty()).isPresent();
    }

    /** sd.models.default, or the first model listed. */
    public String defaultModel() {
        ModelLibrary l = library().orElseThrow(() -> new IllegalStateException("no models folder (sd.models.dir)"));
        Optional<String> configured = config.models().defaultModel().map(String::trim).filter(s -> !s.isEmpty());
        if (configured.isPresent()) {
            if (l.find(configured.get()).isEmpty()) {
                throw new IllegalStateException("sd.models.default=" + configured.get() + " is not in the models folder "
                        + l.dir() + " (listed: " + names(l.list()) + ")");
            }
            return configured.get();
        }
        List<ModelLibrary.Entry> all = l.list();
        if (all.isEmpty()) {
            throw new IllegalStateException("the models folder " + l.dir() + " (sd.models.dir) holds no model");
        }
        return all.get(0).name();
    }

    static List<String> names(List<ModelLibrary.Entry> entries) {
        return entries.stream().map(ModelLibrary.Entry::name).toList();
    }

    /** The LoRA folder (sd.loras.dir), when one is configured. */
    public Optional<Path> lorasDir() {
        return config.loras().dir().map(String::trim).filter(s -> !s.isEmpty()).map(Path::of);
    }

    /** The LoRAs of sd.loras.dir (empty without one), sorted by name; links leaving the folder are skipped. */
    public List<ModelFolderScan.Entry> loras() {
        return lorasDir().map(d -> ModelFolderScan.list(d, p -> p.getFileName().toString().endsWith(".safetensors")
                && java.nio.file.Files.isRegularFile(p), "LoRA")).orElse(List.of());
    }

    /** The file of a listed LoRA; names are matched against the listing only. */
    public Optional<Path> loraPath(String name) {
        return loras().stream().filter(e -> e.name().equals(name)).map(ModelFolderScan.Entry::path).findFirst();
    }

    /** The textual-inversion folder (sd.embeddings.dir), when one is configured. */
    public Optional<Path> embeddingsDir() {
        return config.embeddings().dir().map(String::trim).filter(s -> !s.isEmpty()).map(Path::of);
    }

    /** The embeddings of sd.embeddings.dir (empty without one), sorted by name; links leaving the folder are skipped. */
    public List<ModelFolderScan.Entry> embeddings() {
        return embeddingsDir().map(d -> ModelFolderScan.list(d, p -> p.getFileName().toString()
                .endsWith(dev.sdcfg.model.ti.TextualInversionFile.SUFFIX) && java.nio.file.Files.isRegularFile(p),
                "embedding")).orElse(List.of());
    }

    /** Shared with the worker's {@code ModelSwitcher}: the model in memory now (null while none is). */
    public AtomicReference<String> resident() {
        return resident;
    }
}
