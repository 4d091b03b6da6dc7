package dev.sdcfg.api;

import dev.sdcfg.jobs.JobService;
import dev.sdcfg.jobs.ModelCatalog;
import dev.sdcfg.model.library.ModelLibrary;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * GET /v1/models with a models folder: one entry per model of the folder (OpenAI list shape). {@code hash} is
 * A1111's short hash (the first 10 hex digits of the file's sha256, what A1111 writes as "Model hash"; single files
 * only, computed once per file and cached), {@code loaded} marks the model resident on this replica's worker, which
 * also carries the engine's facts and the service state.
 */
final class ModelListView {

    private ModelListView() {
    }

    static Map<String, Object> of(ModelCatalog catalog, JobService jobs) {
        ModelLibrary library = catalog.library().orElseThrow();
        String resident = catalog.resident().get();
        List<Map<String, Object>> data = new ArrayList<>();
        for (ModelLibrary.Entry e : library.list()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", e.name());
            m.put("object", "model");
            m.put("format", e.format());
            m.put("family", e.family());
            m.put("size_bytes", e.sizeBytes());
            m.put("hash", e.shortHash());
            m.put("sha256", e.sha256());
            boolean loaded = e.name().equals(resident);
            m.put("loaded", loaded);
            if (loaded) {
                m.put("status", jobs.state().name().toLowerCase(Locale.ROOT));
                jobs.generator().ifPresent(g -> {
                    Map<String, Object> facts = CatalogResource.facts(g.modelInfo());
                    facts.remove("id");
                    m.putAll(facts);
                });
            }
            data.add(m);
        }
        Map<String, Object> out = CatalogResource.list(data);
        out.put("default", catalog.defaultModel());
        out.put("resident", resident);
        out.put("status", jobs.state().name().toLowerCase(Locale.ROOT));
        jobs.failureReason().ifPresent(r -> out.put("reason", r));
        out.put("queue", jobs.sharedQueue() ? "redis" : "memory");
        out.put("worker", jobs.workerName());
        return out;
    }
}
