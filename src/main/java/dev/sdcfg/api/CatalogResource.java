package dev.sdcfg.api;

import dev.sdcfg.jobs.JobService;
import dev.sdcfg.jobs.ServiceConfig;
import dev.sdcfg.pipeline.ModelInfo;
import jakarta.inject.Inject;
import jakarta.ws.rs.GET;
import jakarta.ws.rs.Path;
import jakarta.ws.rs.Produces;
import jakarta.ws.rs.core.MediaType;
import org.eclipse.microprofile.openapi.annotations.Operation;
import org.eclipse.microprofile.openapi.annotations.enums.SchemaType;
import org.eclipse.microprofile.openapi.annotations.media.Content;
import org.eclipse.microprofile.openapi.annotations.media.ExampleObject;
import org.eclipse.microprofile.openapi.annotations.media.Schema;
import org.eclipse.microprofile.openapi.annotations.responses.APIResponse;
import org.eclipse.microprofile.openapi.annotations.tags.Tag;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** What the engine offers: guidance catalog, samplers, the model. */
@Path("/v1")
@Tag(name = "catalog", description = "What the loaded engine offers")
@Produces(MediaType.APPLICATION_JSON)
public class CatalogResource {

    @Inject
    JobService jobs;

    @Inject
    ServiceConfig config;

    @Inject
    dev.sdcfg.jobs.ModelCatalog catalog;

    @GET
    @Path("/guidance")
    @Operation(summary = "Guidance options", description = "Normalizers, schedule kinds, parameters with their ranges, "
            + "and the named presets (the notebook's experiments) accepted in the guidance field.")
    @APIResponse(responseCode = "200", description = "The guidance catalog",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(type = SchemaType.OBJECT),
                    examples = @ExampleObject(name = "catalog", value = "{\"normalizers\": [\"none\", \"basenorm\", "
                            + "\"tnorm\", \"fullnorm\", \"rescale\", \"apg\", \"cfg-zero-star\"], \"schedules\": "
                            + "[\"constant\", \"cosine\", \"linear\", \"power\", \"step\", \"array\"], \"parameters\": "
                            + "{\"g\": {\"min\": 0, \"max\": 30, \"default\": 7.5}}, \"presets\": "
                            + "[\"FullNormGuidance_Sched_TCos\"]}")))
    @APIResponse(responseCode = "503", description = "The model is not loaded (yet)",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class),
                    examples = @ExampleObject(name = "loading", value = ApiExamples.PROBLEM_503)))
    public Map<String, Object> guidance() {
        return jobs.requireGenerator().guidanceCatalog();
    }

    @GET
    @Path("/samplers")
    @Operation(summary = "Samplers", description = "Sampler names (diffusers schedulers) with their options, for the "
            + "sampler and sampler_options fields.")
    @APIResponse(responseCode = "200", description = "The samplers",
            content = @Content(mediaType = MediaType.APPLICATION_JSON,
                    schema = @Schema(type = SchemaType.ARRAY, implementation = Object.class),
                    examples = @ExampleObject(name = "samplers", value = "[{\"name\": \"euler\", \"options\": "
                            + "[\"use_karras_sigmas\", \"timestep_spacing\"]}, {\"name\": \"dpmpp_2m\"}]")))
    @APIResponse(responseCode = "503", description = "The model is not loaded (yet)",
            content = @Content(mediaType = ProblemMappers.PROBLEM_JSON, schema = @Schema(implementation = Problem.class)))
    public List<SamplerView> samplers() {
        return jobs.requireGenerator().samplers().stream().map(SamplerView::of).toList();
    }

    @GET
    @Path("/models")
    @Operation(summary = "The model", description = "The one model this service serves (OpenAI list shape), with its "
            + "state (loading, ready, failed, stopping) and, once loaded, the engine's facts (folder, device, dtype, "
            + "native size…). Answers while loading, too. With a models folder (sd.models.dir): every model of it, "
            + "with format, family, size_bytes, the A1111 hash (first 10 hex digits of the file's sha256, single files) "
            + "and loaded (the resident one also carries the engine's facts).")
    @APIResponse(responseCode = "200", description = "The model list",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(type = SchemaType.OBJECT),
                    examples = @ExampleObject(name = "ready", value = "{\"object\": \"list\", \"data\": [{\"id\": "
                            + "\"sd-1.5\", \"object\": \"model\", \"status\": \"ready\", \"source\": \"diffusers folder "
                            + "/models/sd15\", \"device\": \"gpu(0)\", \"dtype\": \"float16\", \"native_size\": 512, \"family\": \"sd1\"}]}")))
    public Map<String, Object> models() {
        if (catalog.enabled()) {
            return ModelListView.of(catalog, jobs);
        }
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("id", "stable-diffusion");
        model.put("object", "model");
        model.put("status", jobs.state().name().toLowerCase(Locale.ROOT));
        model.put("source", jobs.modelDescription());
        jobs.failureReason().ifPresent(r -> model.put("reason", r));
        jobs.generator().ifPresent(g -> model.putAll(facts(g.modelInfo())));
        model.put("queue_capacity", jobs.capacity());
        // which queue this replica serves from, and its name in job views ("worker")
        model.put("queue", jobs.sharedQueue() ? "redis" : "memory");
        model.put("worker", jobs.workerName());
        return list(List.of(model));
    }

    @GET
    @Path("/loras")
    @Operation(summary = "LoRAs", description = "The LoRA .safetensors files of sd.loras.dir (kohya/A1111, diffusers or "
            + "PEFT keys), by the names a request's loras field and <lora:name:weight> prompt tags use. Empty without "
            + "a LoRA folder.")
    @APIResponse(responseCode = "200", description = "The LoRA list",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(type = SchemaType.OBJECT),
                    examples = @ExampleObject(name = "loras", value = "{\"object\": \"list\", \"data\": [{\"id\": "
                            + "\"pixel-art\", \"object\": \"lora\", \"size_bytes\": 151110800}]}")))
    public Map<String, Object> loras() {
        List<Map<String, Object>> data = new java.util.ArrayList<>();
        for (dev.sdcfg.model.library.ModelFolderScan.Entry e : catalog.loras()) {
            Map<String, Object> m = folderEntry(e, "lora");
            m.put("size_bytes", dev.sdcfg.model.library.ModelFolderScan.sizeOnDisk(e.realPath()));
            data.add(m);
        }
        return list(data);
    }

    @GET
    @Path("/embeddings")
    @Operation(summary = "Textual-inversion embeddings", description = "The textual-inversion .safetensors embeddings of "
            + "sd.embeddings.dir (A1111 emb_params or string_to_param, diffusers <token>), by name (the file name without "
            + ".safetensors): vectors is how many tokens the name stands for, dim their width (the text encoder's "
            + "hidden size they fit). A file that cannot be read is listed with an error instead. Empty without an "
            + "embeddings folder. A prompt or negative prompt uses one by naming it, in either prompt_syntax.")
    @APIResponse(responseCode = "200", description = "The embedding list",
            content = @Content(mediaType = MediaType.APPLICATION_JSON, schema = @Schema(type = SchemaType.OBJECT),
                    examples = @ExampleObject(name = "embeddings", value = "{\"object\": \"list\", \"data\": [{\"id\": "
                            + "\"easynegative\", \"object\": \"embedding\", \"vectors\": 8, \"dim\": 768, "
                            + "\"size_bytes\": 24655}]}")))
    public Map<String, Object> embeddings() {
        List<Map<String, Object>> data = new java.util.ArrayList<>();
        for (dev.sdcfg.model.library.ModelFolderScan.Entry e : catalog.embeddings()) {
            Map<String, Object> m = folderEntry(e, "embedding");
            try {
                dev.sdcfg.model.ti.TextualInversionFile f = dev.sdcfg.model.ti.TextualInversionFile.read(e.realPath());
                m.put("vectors", f.vectorCount());
                m.put("dim", f.dim());
                if (f.isSdxl()) { // clip_l's width is "dim"; text_encoder_2's clip_g table is this wide
                    m.put("dim_2", f.clipG().dim());
                }
            } catch (dev.sdcfg.model.ModelLoadException ex) {
                m.put("error", ex.getMessage());
            }
            m.put("size_bytes", dev.sdcfg.model.library.ModelFolderScan.sizeOnDisk(e.realPath()));
            data.add(m);
        }
        return list(data);
    }

    /** One file of a LoRA or embeddings folder: its name as id, and the OpenAI object kind. */
    private static Map<String, Object> folderEntry(dev.sdcfg.model.library.ModelFolderScan.Entry e, String object) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", e.name());
        m.put("object", object);
        return m;
    }

    /** OpenAI's list shape: {"object": "list", "data": [...]} (callers may add keys after these two). */
    static Map<String, Object> list(List<Map<String, Object>> data) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("object", "list");
        out.put("data", data);
        return out;
    }

    /** The engine's facts about the model, in the API's JSON names. */
    static Map<String, Object> facts(ModelInfo info) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", info.id());
        m.put("path", info.path());
        m.put("device", info.device());
        m.put("dtype", info.dtype());
        m.put("native_size", info.nativeSize());
        m.put("vae_scale_factor", info.vaeScaleFactor());
        m.put("latent_channels", info.latentChannels());
        m.put("text_hidden_size", info.textHiddenSize());
        m.put("max_prompt_tokens", info.maxPromptTokens());
        m.put("default_sampler", info.defaultSampler());
        m.put("prediction_type", info.predictionType());
        m.put("clip_skip", info.clipSkip());
        m.put("attention_slice_size", info.attentionSliceSize());
        m.put("family", info.family());
        return m;
    }
}
