package dev.sdcfg.api;

/** Example bodies shown in the OpenAPI document and Swagger UI. */
final class ApiExamples {
    private ApiExamples() {
    }

    static final String GENERATION = "{\n"
            + "  \"prompt\": \"a watercolor fox in a snowy forest\",\n"
            + "  \"negative_prompt\": \"blurry, low quality\",\n"
            + "  \"n\": 1,\n"
            + "  \"size\": \"512x512\",\n"
            + "  \"steps\": 30,\n"
            + "  \"seed\": 1234,\n"
            + "  \"sampler\": \"euler\",\n"
            + "  \"guidance\": {\"normalizer\": \"fullnorm\", \"g\": {\"schedule\": \"cosine\", \"max\": 0.25, \"min\": 0.05}},\n"
            + "  \"response_format\": \"b64_json\"\n"
            + "}";

    static final String GENERATION_MINIMAL = "{\"prompt\": \"a lighthouse at dusk\", \"guidance\": 7.5}";

    static final String GENERATION_PRESET = "{\"prompt\": \"a lighthouse at dusk\", \"size\": \"512x768\", "
            + "\"guidance\": {\"preset\": \"FullNormGuidance_Sched_TCos\"}, "
            + "\"sampler\": \"dpmpp_2m\", \"sampler_options\": {\"use_karras_sigmas\": true}}";

    static final String EXPERIMENT = "{\n"
            + "  \"prompt\": \"a watercolor fox in a snowy forest\",\n"
            + "  \"seed\": 1234,\n"
            + "  \"steps\": 30,\n"
            + "  \"size\": \"512x512\",\n"
            + "  \"guidance\": [7.5, {\"normalizer\": \"basenorm\", \"g\": 7.5}, {\"preset\": \"FullNormGuidance_Sched_TCos\"}],\n"
            + "  \"labels\": [\"plain CFG 7.5\", \"basenorm 7.5\", \"fullnorm cosine\"],\n"
            + "  \"columns\": 3\n"
            + "}";

    static final String IMAGES_RESPONSE = "{\"created\": 1767225600, \"id\": \"3f1c2a9e-8d7b-4c1a-9e0f-2b6d5a4c3e21\", "
            + "\"data\": [{\"b64_json\": \"iVBORw0KGgoAAAANSUhEUgAA…\", \"seed\": 1234, \"width\": 512, \"height\": 512}], "
            + "\"seeds\": [1234], \"warnings\": [], \"timings\": {\"queue_wait_ms\": 3.0, \"text_encode_ms\": 41.2, "
            + "\"denoise_ms\": 5120.7, \"vae_decode_ms\": 310.4, \"total_ms\": 5482.9, \"run_ms\": 5490.0}}";

    static final String JOB_QUEUED = "{\"id\": \"3f1c2a9e-8d7b-4c1a-9e0f-2b6d5a4c3e21\", \"object\": \"job\", "
            + "\"kind\": \"generation\", \"status\": \"queued\", \"created_at\": \"2026-01-01T00:00:00Z\", "
            + "\"queue_position\": 2, \"progress\": {\"step\": 0, \"total\": 30, \"fraction\": 0.0, "
            + "\"generation\": 0, \"generations\": 1}, \"cancel_requested\": false, \"seeds\": [1234], \"warnings\": [], "
            + "\"timings\": {}, \"images\": [], \"url\": \"/v1/jobs/3f1c2a9e-8d7b-4c1a-9e0f-2b6d5a4c3e21\"}";

    static final String JOB_SUCCEEDED = "{\"id\": \"3f1c2a9e-8d7b-4c1a-9e0f-2b6d5a4c3e21\", \"object\": \"job\", "
            + "\"kind\": \"experiment\", \"status\": \"succeeded\", \"created_at\": \"2026-01-01T00:00:00Z\", "
            + "\"started_at\": \"2026-01-01T00:00:00.003Z\", \"finished_at\": \"2026-01-01T00:00:16.2Z\", "
            + "\"progress\": {\"step\": 90, \"total\": 90, \"fraction\": 1.0, \"generation\": 3, \"generations\": 3}, "
            + "\"cancel_requested\": false, \"seeds\": [1234, 1234, 1234], \"warnings\": [], "
            + "\"timings\": {\"queue_wait_ms\": 3.0, \"total_ms\": 16190.0, \"run_ms\": 16197.0}, "
            + "\"images\": [{\"index\": 0, \"url\": \"/v1/jobs/3f1c2a9e-8d7b-4c1a-9e0f-2b6d5a4c3e21/images/0\", "
            + "\"seed\": 1234, \"width\": 512, \"height\": 512, \"label\": \"plain CFG 7.5\"}], "
            + "\"grid_url\": \"/v1/jobs/3f1c2a9e-8d7b-4c1a-9e0f-2b6d5a4c3e21/grid\", "
            + "\"url\": \"/v1/jobs/3f1c2a9e-8d7b-4c1a-9e0f-2b6d5a4c3e21\"}";

    static final String PROBLEM_400 = "{\"type\": \"urn:sdcfg:problem:invalid-request\", \"title\": \"Invalid request\", "
            + "\"status\": 400, \"detail\": \"2 fields are invalid: steps: must be between 1 and 150; size: must be WxH, e.g. 512x512\", "
            + "\"instance\": \"/v1/images/generations\", \"errors\": [{\"field\": \"steps\", \"message\": \"must be between 1 and 150\"}, "
            + "{\"field\": \"size\", \"message\": \"must be WxH, e.g. 512x512\"}]}";

    static final String PROBLEM_422 = "{\"type\": \"urn:sdcfg:problem:unprocessable-request\", "
            + "\"title\": \"The engine cannot run this request\", \"status\": 422, "
            + "\"detail\": \"guidance.normalizer: unknown normalizer 'bogus'\", \"instance\": \"/v1/jobs\", "
            + "\"errors\": [{\"field\": \"guidance.normalizer\", \"message\": \"unknown normalizer 'bogus'\"}]}";

    static final String PROBLEM_404 = "{\"type\": \"urn:sdcfg:problem:not-found\", \"title\": \"Not found\", \"status\": 404, "
            + "\"detail\": \"no job 3f1c2a9e-8d7b-4c1a-9e0f-2b6d5a4c3e21 (unknown, or evicted after its retention time)\", "
            + "\"instance\": \"/v1/jobs/3f1c2a9e-8d7b-4c1a-9e0f-2b6d5a4c3e21\", \"errors\": []}";

    static final String JOB_EVENTS = "id: 0\nevent: queued\ndata: {\"id\":\"3f1c…\",\"status\":\"queued\",\"queue_position\":1}\n\n"
            + "id: 1\nevent: started\ndata: {\"id\":\"3f1c…\",\"status\":\"running\",\"attempt\":1,\"worker\":\"local\"}\n\n"
            + "id: 14\nevent: progress\ndata: {\"id\":\"3f1c…\",\"status\":\"running\",\"step\":12,\"total\":30,"
            + "\"fraction\":0.4,\"generation\":0,\"generations\":1,\"eta_seconds\":4.2}\n\n"
            + "event: preview\ndata: {\"id\":\"3f1c…\",\"status\":\"running\",\"step\":12,\"total\":30,"
            + "\"generation\":0,\"image\":0,\"width\":64,\"height\":64,\"png_base64\":\"iVBORw0KGgo…\"}\n\n"
            + ": heartbeat\n\n"
            + "id: 33\nevent: succeeded\ndata: {\"id\":\"3f1c…\",\"object\":\"job\",\"status\":\"succeeded\",…,"
            + "\"images\":[{\"index\":0,\"url\":\"/v1/jobs/3f1c…/images/0\",…}]}\n\n";

    static final String PROBLEM_409 = "{\"type\": \"urn:sdcfg:problem:not-finished\", \"title\": \"Job not finished\", "
            + "\"status\": 409, \"detail\": \"job 3f1c… is running; images are available once it succeeded\", "
            + "\"instance\": \"/v1/jobs/3f1c…/images/0\", \"errors\": [], \"job_id\": \"3f1c…\"}";

    static final String PROBLEM_415 = "{\"type\": \"urn:sdcfg:problem:unsupported-media-type\", "
            + "\"title\": \"Unsupported media type\", \"status\": 415, \"detail\": \"send the request body as application/json\", "
            + "\"instance\": \"/v1/jobs\", \"errors\": [{\"field\": \"Content-Type\", \"message\": \"must be application/json\"}]}";

    static final String PROBLEM_429 = "{\"type\": \"urn:sdcfg:problem:queue-full\", \"title\": \"Too many jobs waiting\", "
            + "\"status\": 429, \"detail\": \"the job queue is full (16 jobs waiting); retry later\", "
            + "\"instance\": \"/v1/jobs\", \"errors\": []}";

    static final String PROBLEM_503 = "{\"type\": \"urn:sdcfg:problem:service-unavailable\", \"title\": \"Service unavailable\", "
            + "\"status\": 503, \"detail\": \"the model is loading (diffusers folder /models/sd15)\", "
            + "\"instance\": \"/v1/images/generations\", \"errors\": [], \"state\": \"loading\"}";

    static final String PROBLEM_500 = "{\"type\": \"urn:sdcfg:problem:generation-failed\", \"title\": \"Generation failed\", "
            + "\"status\": 500, \"detail\": \"out_of_memory: CUDA out of memory. Tried to allocate 2.00 GiB\", "
            + "\"instance\": \"/v1/images/generations\", \"errors\": [], \"job_id\": \"3f1c…\"}";
}
