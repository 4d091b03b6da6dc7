package dev.sdcfg.jobs;

import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;

import java.time.Duration;
import java.util.Optional;

/**
 * The service's {@code sd.*} configuration (application.properties or environment: {@code sd.model.path} is
 * {@code SD_MODEL_PATH}). Method names map to kebab-case keys ({@code maxPromptChars} → {@code max-prompt-chars}).
 */
@ConfigMapping(prefix = "sd")
public interface ServiceConfig {

    /** Which {@link GeneratorProvider} builds the engine: "pipeline" (Stable Diffusion) unless a test says else. */
    @WithDefault("pipeline")
    String generator();

    Model model();

    /** The models folder (issue 16): several models, one resident, picked per request. */
    Models models();

    /** The LoRA folder (issue 16): LoRAs a request names are merged into the model for it. */
    Loras loras();

    /** The textual-inversion folder (issue 16): embeddings listed by GET /v1/embeddings. */
    Embeddings embeddings();

    /** auto | cpu | gpu | gpu:N. */
    @WithDefault("auto")
    String device();

    /** auto | float32 | float16 | float64. */
    @WithDefault("auto")
    String dtype();

    Attention attention();

    Memory memory();

    /** diffusers' clip_skip: 0 = last CLIP layer, 1 = penultimate, ... */
    @WithDefault("0")
    @Min(0)
    @Max(4)
    int clipSkip();

    Queue queue();

    Sync sync();

    Jobs jobs();

    Limits limits();

    Defaults defaults();

    Auth auth();

    /** GET /v1/jobs/{id}/events. */
    Events events();

    /** Webhook delivery. */
    Webhooks webhooks();

    interface Events {
        /** A comment line is sent on every stream this often (proxies and clients see it alive). */
        @WithDefault("15s")
        Duration heartbeat();

        /** How often a stream reads its job (one read per stream and interval; in Redis mode one HGETALL). */
        @WithDefault("250ms")
        Duration pollInterval();
    }

    interface Webhooks {
        /** The HMAC-SHA256 key of Webhook-Signature (a "whsec_" prefix is dropped, the rest base64-decoded). */
        Optional<String> secret();

        /** Allow webhook URLs that resolve to loopback, link-local, private or unique-local addresses. */
        @WithDefault("false")
        boolean allowPrivate();

        @WithDefault("2048")
        @Min(16)
        int maxUrlLength();

        /** Tries per delivery (the first one included). */
        @WithDefault("5")
        @Min(1)
        int tries();

        /** Wait before the second try; doubled before each next one (15 s: ~4 min over 5 tries). */
        @WithDefault("15s")
        Duration backoff();

        /** Connect + response timeout of one try. */
        @WithDefault("10s")
        Duration timeout();

        /** Deliveries that may wait for the sender; beyond it new ones are dropped (counted). */
        @WithDefault("1000")
        @Min(1)
        int queueCapacity();
    }

    interface Auth {
        /** API keys (comma-separated); empty: no authentication. Never logged. */
        Optional<java.util.List<String>> apiKeys();
    }

    interface Model {
        /** A diffusers folder; empty: the embedded demo model (trained here on scenes of coloured shapes, 64 px). */
        Optional<String> path();

        /** Weight variant to prefer, e.g. fp16; empty: the plain files. */
        Optional<String> variant();

        /** Retry-After (503) while the model loads. */
        @WithDefault("10s")
        Duration loadingRetryAfter();
    }

    interface Models {
        /** Diffusers folders and single-file .safetensors checkpoints; empty: only sd.model.path is served. */
        Optional<String> dir();

        /** The model a request without {@code model} runs on (a name in dir); empty: the first one listed. */
        @io.smallrye.config.WithName("default")
        Optional<String> defaultModel();

        /** How many times the oldest waiting job may be passed over for jobs on the resident model. */
        @WithDefault("4")
        @Min(0)
        int maxPassOver();
    }

    interface Loras {
        /** LoRA .safetensors files (kohya/A1111, diffusers, PEFT); empty: requests cannot name LoRAs. */
        Optional<String> dir();
    }

    interface Embeddings {
        /** Textual-inversion .safetensors embeddings (A1111 emb_params, diffusers <token>); empty: none. */
        Optional<String> dir();
    }

    interface Attention {
        /** Rows per attention slice (0 = no slicing). */
        @WithDefault("0")
        @Min(0)
        int sliceSize();
    }

    interface Memory {
        /** Working-memory budget: auto (a share of the cgroup/physical memory or GPU memory) or a size (8G). */
        @WithDefault("auto")
        String budget();
    }

    interface Queue {
        /** Jobs that may wait for the worker (the running one not counted). */
        @WithDefault("16")
        @Min(1)
        int capacity();

        /** Retry-After for 429 before any job has finished (later it is estimated from job durations). */
        @WithDefault("10s")
        Duration retryAfter();

        /** Redis mode: a running job whose lease was not renewed for this long is taken over by another replica. */
        @WithDefault("30s")
        Duration lease();

        /** How often the running job's lease is renewed and its cancel flag read. */
        @WithDefault("1s")
        Duration heartbeat();

        /** Runs of one job that may end with a dead worker before the job is failed. */
        @WithDefault("2")
        @Min(0)
        int maxCrashes();

        /** This replica's name in job views; empty: host name and process id. */
        Optional<String> workerName();
    }

    interface Sync {
        /** How long POST /v1/images/generations waits before answering 202 with the job's URL. */
        @WithDefault("300s")
        Duration timeout();
    }

    interface Jobs {
        /** How long a finished job and its images are kept. */
        @WithDefault("30m")
        Duration ttl();

        /** How many finished jobs are kept at most (oldest evicted first). */
        @WithDefault("100")
        @Min(1)
        int maxRetained();
    }

    interface Limits {
        @WithDefault("2000")
        @Min(1)
        int maxPromptChars();

        @WithDefault("4")
        @Min(1)
        int maxN();

        @WithDefault("150")
        @Min(1)
        int maxSteps();

        @WithDefault("64")
        @Min(8)
        int minSize();

        @WithDefault("1024")
        @Min(8)
        int maxSize();

        /** Largest width × height. */
        @WithDefault("1048576")
        @Min(64)
        long maxPixels();

        /**
         * Most 75-token chunks a prompt (or negative prompt) may take in A1111 syntax; each adds 77 positions to
         * the UNet's cross-attention context. More: 422.
         */
        @WithDefault("8")
        @Min(1)
        int maxPromptChunks();

        /** Most guidance specs in one experiment. */
        @WithDefault("12")
        @Min(1)
        int maxExperimentSpecs();

        /** Largest serialized guidance or sampler_options value, in characters. */
        @WithDefault("16384")
        @Min(64)
        int maxSpecChars();
    }

    interface Defaults {
        @WithDefault("25")
        @Min(1)
        int steps();

        /** "WxH" used when a request names no size; empty: the model's native size (modelInfo "native_size"), else 512. */
        Optional<String> size();
    }
}
