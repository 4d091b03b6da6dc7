"""End-to-end SD 2.x-style golden computed by diffusers' own StableDiffusionPipeline source.

usage (see README.md for the whole sequence):
    PYTHONPATH=SHIM /usr/bin/python3 gen_pipeline.py model DEMO_MODEL OUT_CASE_DIR
        writes OUT_CASE_DIR/model/: the files that turn a copy of DEMO_MODEL into the SD 2.x-style model
        (an overlay: copy DEMO_MODEL, then copy these files over it)
    PYTHONPATH=SHIM /usr/bin/python3 gen_pipeline.py run DEMO_MODEL OUT_CASE_DIR IDS_JSON
        assembles the model (copy of DEMO_MODEL + overlay) in a temporary folder, loads it as from_pretrained does
        (from_config + the safetensors weights), and runs every RUNS entry through
        diffusers.StableDiffusionPipeline.__call__; writes OUT_CASE_DIR/golden.safetensors and notes.json.

The model: the demo model's VAE, tokenizer files and CLIP text encoder weights; text_encoder/config.json with
hidden_act "gelu" (SD 2.x's OpenCLIP text tower uses exact gelu); tokenizer with SD 2.x's special_tokens_map.json
(pad token "!", id 0) and model_max_length 77; a NEW tiny SD 2.x-v-style UNet (linear projections, list-valued
attention_head_dim, upcast_attention, cross_attention_dim 32) with perturbed random weights, config.json holding
exactly the keys of stabilityai/stable-diffusion-2-1's unet/config.json; scheduler_config.json = SD 2.1's
(DDIMScheduler, v_prediction, written from memory: see SD21_SCHEDULER).

Prompts are NOT tokenized here: IDS_JSON holds the ids our Java ClipTokenizer produced (TokenizePrompts.java);
prompt_embeds = text_encoder(ids)[0] exactly as encode_prompt computes them (clip_skip None, no attention mask),
then the pipeline is called with prompt_embeds / negative_prompt_embeds.

golden.safetensors keys:
    ids.<key>                    int64 [1, 77]   the token ids (Java's), as given
    embeds.<key>                 f32 [1, 77, 32] text_encoder(ids)[0]
    <run>.init_latents           f32 [1, 4, h, w] torch.randn(shape, generator=Generator().manual_seed(seed)) (before
                                                 init_noise_sigma; the pipeline's scaled latents are checked to equal
                                                 it times init_noise_sigma)
    <run>.init_noise_sigma       f64 []
    <run>.timesteps              f64 [N]          scheduler.timesteps after set_timesteps
    <run>.unet_out.stepI         f32 [2, 4, h, w] the UNet output on the CFG pair (uncond, text) at step I
    <run>.stepI.latents          f32 [1, 4, h, w] latents after step I (callback_on_step_end), every step
    <run>.final_latents          f32 [1, 4, h, w] latents handed to the VAE (times scaling_factor)
    <run>.image                  f32 [1, 3, H, W] vae.decode(latents / scaling_factor) in [-1, 1]
    <run>.image_u8               u8  [H, W, 3]    the PIL image the pipeline returns (output_type "pil")
"""
import copy
import json
import os
import shutil
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "unet-goldens"))
sys.path.insert(0, os.path.join(HERE, "..", "scheduler-goldens"))

# numpy 2's scalar promotion (the reference environment's); the Euler schedulers' numpy code depends on it
# (numpy >= 2.2 has no switch: weak promotion, NEP 50, is the only behaviour there)
if hasattr(np, "_set_promotion_state"):
    np._set_promotion_state("weak")
import torch  # noqa: E402
import patch_linspace  # noqa: E402,F401  torch 2.x's float32 linspace (one FMA per element), see its README

import gen_unet  # noqa: E402
import safetensors_io  # noqa: E402
from gen_unet import perturb, read_safetensors, rel_l2, write_safetensors, _TorchBaddbmmFix  # noqa: E402

import diffusers  # noqa: E402
import diffusers.models.attention_processor as attention_processor  # noqa: E402
from diffusers.models.attention_processor import Attention, AttnProcessor  # noqa: E402
from diffusers.models import AutoencoderKL, UNet2DConditionModel  # noqa: E402
from diffusers.schedulers import DDIMScheduler, EulerAncestralDiscreteScheduler, EulerDiscreteScheduler  # noqa: E402
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import StableDiffusionPipeline  # noqa: E402
import transformers  # noqa: E402
from transformers import CLIPTextConfig, CLIPTextModel  # noqa: E402

safetensors_io._DT[torch.uint8] = ("U8", "u1")  # the shared writer (tools/safetensors_io.py)

# The top-level package is lazy in real diffusers; extract_init_dict looks the original class up there.
for _cls in (DDIMScheduler, EulerDiscreteScheduler, EulerAncestralDiscreteScheduler, AutoencoderKL,
             UNet2DConditionModel, StableDiffusionPipeline):
    setattr(diffusers, _cls.__name__, _cls)
# transformers' PreTrainedModel.dtype (the shim's PreTrainedModel is a thin nn.Module); encode_prompt reads it
transformers.modeling_utils.PreTrainedModel.dtype = property(lambda self: next(self.parameters()).dtype)

# stabilityai/stable-diffusion-2-1 scheduler/scheduler_config.json (diffusers 0.8.0 era), as remembered: no
# timestep_spacing / rescale_betas_zero_snr / thresholding keys, so every class uses its own defaults for them
# (DDIM: "leading"; Euler*.from_config: "linspace", because from_config drops the keys the DDIM config only had by
# default, i.e. _use_default_values). skip_prk_steps is a PNDM leftover that DDIM ignores.
SD21_SCHEDULER = {
    "_class_name": "DDIMScheduler",
    "_diffusers_version": "0.8.0",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "prediction_type": "v_prediction",
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}

# stabilityai/stable-diffusion-2-1 tokenizer/special_tokens_map.json (pad "!"); tokenizer_config.json keeps the
# demo's pad_token "<|endoftext|>" (SD 2.1's tokenizer_config.json says the same; special_tokens_map.json wins)
SD21_SPECIAL_TOKENS = {
    "bos_token": {"content": "<|startoftext|>", "lstrip": False, "normalized": True, "rstrip": False,
                  "single_word": False},
    "eos_token": {"content": "<|endoftext|>", "lstrip": False, "normalized": True, "rstrip": False,
                  "single_word": False},
    "pad_token": "!",
    "unk_token": {"content": "<|endoftext|>", "lstrip": False, "normalized": True, "rstrip": False,
                  "single_word": False},
}

UNET_SEED = 20250701
UNET = dict(
    sample_size=8,
    in_channels=4,
    out_channels=4,
    down_block_types=["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    up_block_types=["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
    block_out_channels=[16, 24, 32],
    layers_per_block=2,
    attention_head_dim=[2, 3, 4],  # legacy meaning: heads per block (head dims 8, 8, 8)
    cross_attention_dim=32,
    norm_num_groups=8,
    use_linear_projection=True,
    upcast_attention=True,
)

PROMPT = "a watercolor painting of a lighthouse on a cliff at dusk"
NEGATIVE = "blurry, low quality"
WIDTH, HEIGHT, STEPS = 64, 48, 12

# name, diffusers scheduler (None = the model's DDIMScheduler), __call__ arguments; Java request: sampler, guidance
RUNS = [
    dict(name="ddim_cfg7.5", scheduler=None, seed=1234, negative="negative",
         call=dict(guidance_scale=7.5), sampler="ddim", guidance='{"normalizer":"none","g":7.5}'),
    dict(name="ddim_cfg7.5_rescale0.7", scheduler=None, seed=1234, negative="negative",
         call=dict(guidance_scale=7.5, guidance_rescale=0.7), sampler="ddim",
         guidance='{"normalizer":"rescale","g":7.5,"phi":0.7}'),
    dict(name="ddim_eta0.6_cfg7.5", scheduler=None, seed=4242, negative="negative",
         call=dict(guidance_scale=7.5, eta=0.6), sampler="ddim", sampler_options='{"eta":0.6}',
         guidance='{"normalizer":"none","g":7.5}'),
    dict(name="euler_cfg5", scheduler="EulerDiscreteScheduler", seed=987654321, negative="empty",
         call=dict(guidance_scale=5.0), sampler="euler", guidance="5"),
    dict(name="euler_ancestral_cfg6", scheduler="EulerAncestralDiscreteScheduler", seed=3000000000,
         negative="negative", call=dict(guidance_scale=6.0), sampler="euler_ancestral",
         guidance='{"normalizer":"none","g":6}'),
]
PROMPTS = {"prompt": PROMPT, "negative": NEGATIVE, "empty": ""}

SD21_UNET_KEYS = gen_unet.SD21_KEYS


def write_json(obj, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def read_json(path):
    with open(path) as f:
        return json.load(f)


def make_model(demo, case_dir):
    """The overlay files (written under case_dir/model)."""
    out = os.path.join(case_dir, "model")
    if os.path.isdir(out):
        shutil.rmtree(out)
    index = read_json(os.path.join(demo, "model_index.json"))
    index["scheduler"] = ["diffusers", "DDIMScheduler"]
    write_json(index, os.path.join(out, "model_index.json"))
    write_json(SD21_SCHEDULER, os.path.join(out, "scheduler", "scheduler_config.json"))
    te = read_json(os.path.join(demo, "text_encoder", "config.json"))
    assert te["hidden_act"] == "quick_gelu"
    te["hidden_act"] = "gelu"
    write_json(te, os.path.join(out, "text_encoder", "config.json"))
    tc = read_json(os.path.join(demo, "tokenizer", "tokenizer_config.json"))
    tc["model_max_length"] = 77
    write_json(tc, os.path.join(out, "tokenizer", "tokenizer_config.json"))
    write_json(SD21_SPECIAL_TOKENS, os.path.join(out, "tokenizer", "special_tokens_map.json"))

    torch.manual_seed(UNET_SEED)
    unet = UNet2DConditionModel(**UNET).eval()
    perturb(unet, torch.Generator().manual_seed(UNET_SEED + 1))
    state = {k: v.detach().clone() for k, v in unet.state_dict().items()}
    os.makedirs(os.path.join(out, "unet"))
    write_safetensors(state, os.path.join(out, "unet", "diffusion_pytorch_model.safetensors"), {"format": "pt"})
    cfg = {"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.10.0.dev0"}
    for k in SD21_UNET_KEYS:
        cfg[k] = gen_unet.to_jsonable(unet.config[k])
    rebuilt = UNet2DConditionModel.from_config(cfg)
    full = {k: gen_unet.to_jsonable(v) for k, v in unet.config.items() if not k.startswith("_")}
    assert {k: gen_unet.to_jsonable(v) for k, v in rebuilt.config.items() if not k.startswith("_")} == full
    write_json(cfg, os.path.join(out, "unet", "config.json"))
    print("unet parameters", sum(p.numel() for p in unet.parameters()),
          "bytes", os.path.getsize(os.path.join(out, "unet", "diffusion_pytorch_model.safetensors")))


def assemble(demo, case_dir, dst):
    """What the Java test does too: copy the demo model, then the overlay files over it."""
    shutil.copytree(demo, dst)
    overlay = os.path.join(case_dir, "model")
    for root, _, files in os.walk(overlay):
        for f in files:
            src = os.path.join(root, f)
            rel = os.path.relpath(src, overlay)
            os.makedirs(os.path.dirname(os.path.join(dst, rel)), exist_ok=True)
            shutil.copyfile(src, os.path.join(dst, rel))


def load_diffusers(cls, folder):
    """from_pretrained minus the hub: from_config(config.json) + load_state_dict(safetensors), strict."""
    model = cls.from_config(read_json(os.path.join(folder, "config.json"))).eval()
    state = read_safetensors(os.path.join(folder, "diffusion_pytorch_model.safetensors"))
    model.load_state_dict(state, strict=True)
    return model


def load_pipeline(model_dir):
    sched = DDIMScheduler.from_config(read_json(os.path.join(model_dir, "scheduler", "scheduler_config.json")))
    unet = load_diffusers(UNet2DConditionModel, os.path.join(model_dir, "unet"))
    vae = load_diffusers(AutoencoderKL, os.path.join(model_dir, "vae"))
    te_cfg = read_json(os.path.join(model_dir, "text_encoder", "config.json"))
    text_encoder = CLIPTextModel(CLIPTextConfig(**te_cfg)).eval()
    te_state = read_safetensors(os.path.join(model_dir, "text_encoder", "model.safetensors"))
    # the demo checkpoint has transformers 5's keys; transformers 4.57's CLIPTextModel prefixes them "text_model."
    missing, unexpected = text_encoder.load_state_dict({"text_model." + k: v for k, v in te_state.items()},
                                                       strict=False)
    assert not unexpected and all(k.endswith("position_ids") for k in missing), (missing, unexpected)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=None, unet=unet, scheduler=sched,
                                   safety_checker=None, feature_extractor=None, requires_safety_checker=False)
    for m in list(unet.modules()) + list(vae.modules()):
        if isinstance(m, Attention):
            if type(m.processor) is not AttnProcessor:
                # torch 2.x: diffusers picks AttnProcessor2_0 (scaled_dot_product_attention); the goldens keep the
                # classic processor torch 1.13 gets, whose baddbmm/softmax/bmm the Java attention follows
                m.set_processor(AttnProcessor())
            assert type(m.processor) is AttnProcessor, type(m.processor)
    return pipe


def instrument(pipe, rec):
    """Records into rec every UNet output ("unet"), the prepared latents ("prepared") and the VAE decode's input and
    image ("decode_in", "image"); returns the function that takes the instrumentation off again."""
    hook = pipe.unet.register_forward_hook(
        lambda mod, inp, out: rec["unet"].append((out[0] if isinstance(out, tuple) else out.sample).clone()))
    orig_decode = pipe.vae.decode
    orig_prepare = pipe.prepare_latents

    def decode(z, *a, **k):
        res = orig_decode(z, *a, **k)
        rec["decode_in"] = z.clone()
        rec["image"] = res[0].clone()
        return res

    def prepare(*a, **k):
        lat = orig_prepare(*a, **k)
        rec["prepared"] = lat.clone()
        return lat

    pipe.vae.decode = decode
    pipe.prepare_latents = prepare

    def restore():
        hook.remove()
        del pipe.vae.decode
        del pipe.prepare_latents
    return restore


def run_all(demo, case_dir, ids_json):
    torch.set_num_threads(1)
    attention_processor.torch = _TorchBaddbmmFix()
    ids_doc = read_json(ids_json)
    tmp = tempfile.mkdtemp(prefix="sd2pipe-")
    try:
        model_dir = os.path.join(tmp, "model")
        assemble(demo, case_dir, model_dir)
        pipe = load_pipeline(model_dir)
        model_scheduler = pipe.scheduler
        golden = {}
        embeds = {}
        with torch.no_grad():
            for key, text in PROMPTS.items():
                entry = ids_doc["ids"][key]
                assert entry["text"] == text, (key, entry["text"], text)
                ids = torch.tensor([entry["ids"]], dtype=torch.int64)
                assert ids.shape == (1, 77)
                n_real = int((ids[0] != ids_doc["pad_id"]).sum())
                assert ids_doc["pad_id"] == 0 and bool((ids[0, n_real:] == 0).all()), "expected SD 2.x '!' padding"
                # encode_prompt with clip_skip None and no use_attention_mask: text_encoder(ids)[0]
                emb = pipe.text_encoder(ids, attention_mask=None).last_hidden_state  # = output[0]
                golden["ids." + key] = ids
                golden["embeds." + key] = emb
                embeds[key] = emb
        notes_runs = []
        for r in RUNS:
            name = r["name"]
            if r["scheduler"] is None:
                pipe.scheduler = model_scheduler  # the DDIMScheduler loaded from scheduler_config.json
            else:
                cls = {"EulerDiscreteScheduler": EulerDiscreteScheduler,
                       "EulerAncestralDiscreteScheduler": EulerAncestralDiscreteScheduler}[r["scheduler"]]
                pipe.scheduler = cls.from_config(model_scheduler.config)
            rec = {"unet": [], "steps": {}, "decode_in": None, "image": None, "prepared": None}
            def on_step(p, i, t, kw):
                rec["steps"][i] = kw["latents"].clone()
                return {}

            restore = instrument(pipe, rec)
            try:
                gen = torch.Generator("cpu").manual_seed(r["seed"])
                out = pipe(prompt_embeds=embeds["prompt"], negative_prompt_embeds=embeds[r["negative"]],
                           height=HEIGHT, width=WIDTH, num_inference_steps=STEPS, generator=gen, output_type="pil",
                           callback_on_step_end=on_step, callback_on_step_end_tensor_inputs=["latents"],
                           **r["call"])
            finally:
                restore()
            img = np.array(out.images[0])
            assert img.dtype == np.uint8 and img.shape == (HEIGHT, WIDTH, 3), (img.dtype, img.shape)
            sched = pipe.scheduler
            shape = (1, 4, HEIGHT // pipe.vae_scale_factor, WIDTH // pipe.vae_scale_factor)
            init = torch.randn(shape, generator=torch.Generator().manual_seed(r["seed"]), dtype=torch.float32)
            sigma0 = float(sched.init_noise_sigma)
            assert torch.equal(rec["prepared"], init * sched.init_noise_sigma), name
            assert len(rec["unet"]) == STEPS and len(rec["steps"]) == STEPS
            final = rec["steps"][STEPS - 1]
            sf = pipe.vae.config.scaling_factor
            assert torch.equal(rec["decode_in"], final / sf), name
            golden[name + ".init_latents"] = init
            golden[name + ".init_noise_sigma"] = torch.tensor(sigma0, dtype=torch.float64)
            golden[name + ".timesteps"] = sched.timesteps.to(torch.float64)
            for i in range(STEPS):
                golden["%s.unet_out.step%d" % (name, i)] = rec["unet"][i]
                golden["%s.step%d.latents" % (name, i)] = rec["steps"][i]
            golden[name + ".final_latents"] = final
            golden[name + ".image"] = rec["image"]
            golden[name + ".image_u8"] = torch.from_numpy(img.copy())
            cfg = {k: v for k, v in sched.config.items() if not k.startswith("_")}
            info = {
                "name": name,
                "diffusers": "%s; StableDiffusionPipeline.__call__(prompt_embeds=embeds.prompt, "
                             "negative_prompt_embeds=embeds.%s, height=%d, width=%d, num_inference_steps=%d, "
                             "generator=torch.Generator('cpu').manual_seed(%d), output_type='pil', %s)" % (
                                 "pipe.scheduler = the DDIMScheduler loaded from scheduler_config.json"
                                 if r["scheduler"] is None
                                 else "pipe.scheduler = %s.from_config(<that DDIMScheduler>.config)" % r["scheduler"],
                                 r["negative"], HEIGHT, WIDTH, STEPS, r["seed"],
                                 ", ".join("%s=%s" % kv for kv in r["call"].items())),
                "scheduler_class": type(sched).__name__,
                "scheduler_config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()},
                "timesteps": sched.timesteps.tolist(),
                "init_noise_sigma": sigma0,
                "request": {"prompt": PROMPTS["prompt"], "negative_prompt": PROMPTS[r["negative"]],
                            "negative_key": r["negative"], "width": WIDTH, "height": HEIGHT, "steps": STEPS,
                            "sampler": r["sampler"], "sampler_options": r.get("sampler_options"),
                            "guidance": r["guidance"], "seed": r["seed"]},
                "final_latents_rms": final.pow(2).mean().sqrt().item(),
                "image_u8_mean": float(img.mean()),
            }
            notes_runs.append(info)
            print("%-26s %s t=%s sigma0 %.4f final rms %.4f image u8 mean %.1f" % (
                name, type(sched).__name__, [round(t, 2) for t in sched.timesteps.tolist()][:4], sigma0,
                info["final_latents_rms"], info["image_u8_mean"]))
        for k, v in golden.items():
            assert not v.is_floating_point() or v.isfinite().all(), k
        write_safetensors(golden, os.path.join(case_dir, "golden.safetensors"), {"format": "pt"})
        rev_file = os.path.join(os.path.dirname(diffusers.__file__), "REVISION")
        src_file = os.path.join(os.path.dirname(transformers.__file__), "SOURCE")
        notes = {
            "generator": "tools/pipeline-goldens/gen_pipeline.py (diffusers' own StableDiffusionPipeline source via "
                         "the shim, transformers' own CLIPTextModel)",
            "diffusers_version": diffusers.__version__,
            "diffusers_revision": open(rev_file).read().strip(),
            "transformers_version": transformers.__version__,
            "transformers_source": open(src_file).read().strip(),
            "torch": torch.__version__,
            "numpy": np.__version__ + " (numpy 2 scalar promotion: _set_promotion_state('weak'))",
            "model": "copy of src/test/resources/random-model, then the files of model/ over it",
            "unet_seed": UNET_SEED,
            "unet_args": UNET,
            "prompts": {k: {"text": PROMPTS[k], "ids": "ids." + k, "embeds": "embeds." + k} for k in PROMPTS},
            "tokenizer": "ids made by our Java ClipTokenizer (tools/pipeline-goldens/TokenizePrompts.java)",
            "size": {"width": WIDTH, "height": HEIGHT},
            "steps": STEPS,
            "decode": "vae.decode(latents / scaling_factor) -> image; image_u8 = the pipeline's PIL output "
                      "(VaeImageProcessor: round(clamp(x/2+0.5,0,1)*255))",
            "attention_processor": "AttnProcessor (classic baddbmm + softmax; torch 1.13 has no SDPA)",
            "baddbmm_note": _TorchBaddbmmFix.__doc__.strip(),
            "runs": notes_runs,
        }
        write_json(notes, os.path.join(case_dir, "notes.json"))
        print({f: os.path.getsize(os.path.join(case_dir, f)) for f in os.listdir(case_dir)
               if os.path.isfile(os.path.join(case_dir, f))})
    finally:
        shutil.rmtree(tmp)


def main():
    cmd, demo, case_dir = sys.argv[1:4]
    if cmd == "model":
        make_model(demo, case_dir)
    elif cmd == "run":
        run_all(demo, case_dir, sys.argv[4])
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
