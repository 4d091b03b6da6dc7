"""img2img goldens computed by diffusers' own StableDiffusionImg2ImgPipeline source on the demo model.

usage (see README.md):
    PYTHONPATH=SHIM /usr/bin/python3 gen_img2img.py DEMO_MODEL OUT_DIR

Writes OUT_DIR/init.png (the input image, a deterministic 64x48 RGB pattern), OUT_DIR/golden.safetensors and
OUT_DIR/notes.json. The model is src/test/resources/random-model unchanged (PNDMScheduler, epsilon, SD 1.x-style
UNet); components are loaded as tools/pipeline-goldens/gen_pipeline.py loads them (from_config + strict weights).
Prompts enter as prompt_embeds = text_encoder(ids)[0]: the ids are the SD 2.x-style ids of
tools/pipeline-goldens/prompt_ids.json (made by our Java ClipTokenizer) with the "!" padding (0) replaced by the
demo tokenizer's pad token <|endoftext|> (49407); the Java test asserts its tokenizer produces exactly these ids.

Each run calls StableDiffusionImg2ImgPipeline.__call__(prompt_embeds, negative_prompt_embeds, image=<init.png as
PIL RGB>, strength, num_inference_steps=12, guidance_scale, generator=torch.Generator("cpu").manual_seed(seed),
output_type="pil", callback_on_step_end) with the run's scheduler.

golden.safetensors keys:
    ids.<key> int64 [1, 77], embeds.<key> f32 [1, 77, 32]      as gen_pipeline.py
    <run>.image_in        f32 [1, 3, H, W]  image_processor.preprocess(init image): x / 255 * 2 - 1
    <run>.moments         f32 [1, 8, h, w]  the VAE encoder's output (latent_dist.parameters: mean, logvar)
    <run>.vae_sample      f32 [1, 4, h, w]  the generator's first draw (latent_dist.sample's randn)
    <run>.init_latents    f32 [1, 4, h, w]  scaling_factor * (mean + std * vae_sample)
    <run>.noise           f32 [1, 4, h, w]  the generator's second draw (prepare_latents' randn_tensor)
    <run>.noised_latents  f32 [1, 4, h, w]  prepare_latents' result: scheduler.add_noise(init_latents, noise, t0)
    <run>.timesteps       f64 [N]           scheduler.timesteps after set_timesteps (all of them)
    <run>.run_timesteps   f64 [M]           the ones get_timesteps keeps (timesteps[t_start * order:])
    <run>.stepI.latents   f32 [1, 4, h, w]  latents after loop step I (callback_on_step_end), I < M
    <run>.final_latents, <run>.image, <run>.image_u8   as gen_pipeline.py
"""
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pipeline-goldens"))

import gen_pipeline  # noqa: E402  (numpy promotion, patch_linspace, class registration, loaders)
from gen_pipeline import read_json, write_json, load_diffusers, _TorchBaddbmmFix  # noqa: E402
from gen_unet import write_safetensors  # noqa: E402
import torch  # noqa: E402
import PIL.Image  # noqa: E402
import diffusers  # noqa: E402
import transformers  # noqa: E402
import diffusers.models.attention_processor as attention_processor  # noqa: E402
from diffusers.models import AutoencoderKL, UNet2DConditionModel  # noqa: E402
from diffusers.schedulers import (DDIMScheduler, DPMSolverMultistepScheduler, EulerAncestralDiscreteScheduler,  # noqa
                                  EulerDiscreteScheduler, PNDMScheduler)
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion_img2img import \
    StableDiffusionImg2ImgPipeline  # noqa: E402

for _cls in (PNDMScheduler, DPMSolverMultistepScheduler, StableDiffusionImg2ImgPipeline):
    setattr(diffusers, _cls.__name__, _cls)

WIDTH, HEIGHT, STEPS = 64, 48, 12
PROMPTS = {"prompt": gen_pipeline.PROMPT, "negative": gen_pipeline.NEGATIVE, "empty": ""}
DEMO_PAD = 49407

SCHEDULERS = {"PNDMScheduler": PNDMScheduler, "DDIMScheduler": DDIMScheduler,
              "EulerDiscreteScheduler": EulerDiscreteScheduler,
              "EulerAncestralDiscreteScheduler": EulerAncestralDiscreteScheduler,
              "DPMSolverMultistepScheduler": DPMSolverMultistepScheduler}

# name, scheduler (None = the model's PNDMScheduler; else X.from_config(model scheduler config)), strength, seed,
# negative prompt key, guidance scale; Java request: sampler, guidance
RUNS = [
    dict(name="pndm_s0.75_cfg7.5", scheduler=None, strength=0.75, seed=1234, negative="negative", g=7.5,
         sampler=None, guidance="7.5"),
    dict(name="pndm_s0.3_cfg7.5", scheduler=None, strength=0.3, seed=77, negative="negative", g=7.5,
         sampler=None, guidance="7.5"),
    dict(name="euler_s0.5_cfg5", scheduler="EulerDiscreteScheduler", strength=0.5, seed=987654321,
         negative="empty", g=5.0, sampler="euler", guidance="5"),
    dict(name="dpmpp_2m_s0.75_cfg6", scheduler="DPMSolverMultistepScheduler", strength=0.75, seed=4242,
         negative="negative", g=6.0, sampler="dpmpp_2m", guidance='{"normalizer":"none","g":6}'),
    dict(name="ddim_s0.3_cfg7.5", scheduler="DDIMScheduler", strength=0.3, seed=5, negative="negative", g=7.5,
         sampler="ddim", guidance="7.5"),
    dict(name="euler_ancestral_s0.6_cfg6", scheduler="EulerAncestralDiscreteScheduler", strength=0.6,
         seed=3000000000, negative="negative", g=6.0, sampler="euler_ancestral", guidance="6"),
]


def init_image():
    """A smooth deterministic RGB pattern with edges (a disc and a bar), 64x48."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float64)
    r = 128 + 100 * np.sin(x / 7.0)
    g = 40 + 3.5 * y
    b = np.where((x - 40) ** 2 + (y - 20) ** 2 < 150, 230, 30 + 2 * x)
    g = np.where((x > 8) & (x < 20), 250 - 2 * y, g)
    rgb = np.stack([r, g, b], axis=-1).round().clip(0, 255).astype(np.uint8)
    return PIL.Image.fromarray(rgb, "RGB")


def load_pipeline(model_dir):
    """gen_pipeline.py's components (from_config + strict weights) with the model's own PNDMScheduler."""
    base = gen_pipeline.load_pipeline(model_dir)
    sched = PNDMScheduler.from_config(read_json(os.path.join(model_dir, "scheduler", "scheduler_config.json")))
    return StableDiffusionImg2ImgPipeline(vae=base.vae, text_encoder=base.text_encoder, tokenizer=None, unet=base.unet,
                                          scheduler=sched, safety_checker=None, feature_extractor=None,
                                          requires_safety_checker=False)


def prompt_embeddings(text_encoder):
    """ids.<key> / embeds.<key> of PROMPTS: prompt_ids.json's ids with the demo tokenizer's padding."""
    ids_doc = read_json(os.path.join(HERE, "..", "pipeline-goldens", "prompt_ids.json"))
    golden, embeds = {}, {}
    with torch.no_grad():
        for key, text in PROMPTS.items():
            entry = ids_doc["ids"][key]
            assert entry["text"] == text
            ids = torch.tensor([[DEMO_PAD if i == 0 else i for i in entry["ids"]]], dtype=torch.int64)
            emb = text_encoder(ids, attention_mask=None).last_hidden_state
            golden["ids." + key] = ids
            golden["embeds." + key] = emb
            embeds[key] = emb
    return golden, embeds


def store_trajectory(golden, name, rec, img):
    """<name>.run_timesteps, .stepI.latents, .final_latents, .image, .image_u8 from a run's record."""
    m = len(rec["run_timesteps"])
    golden[name + ".run_timesteps"] = rec["run_timesteps"].to(torch.float64)
    for i in range(m):
        golden["%s.step%d.latents" % (name, i)] = rec["steps"][i]
    golden[name + ".final_latents"] = rec["steps"][m - 1]
    golden[name + ".image"] = rec["image"]
    golden[name + ".image_u8"] = torch.from_numpy(img.copy())


def main():
    demo, out_dir = sys.argv[1:3]
    torch.set_num_threads(1)
    attention_processor.torch = _TorchBaddbmmFix()
    os.makedirs(out_dir, exist_ok=True)
    png = os.path.join(out_dir, "init.png")
    init_image().save(png, format="PNG")
    pil = PIL.Image.open(png).convert("RGB")
    pipe = load_pipeline(demo)
    model_scheduler = pipe.scheduler
    golden, embeds = prompt_embeddings(pipe.text_encoder)
    notes_runs = []
    for r in RUNS:
        name = r["name"]
        pipe.scheduler = model_scheduler if r["scheduler"] is None \
            else SCHEDULERS[r["scheduler"]].from_config(model_scheduler.config)
        rec = {"steps": {}}
        orig = {k: getattr(pipe, k) for k in ("prepare_latents", "get_timesteps")}
        orig_pre = pipe.image_processor.preprocess
        orig_encode = pipe.vae.encode
        orig_decode = pipe.vae.decode

        def preprocess(*a, **k):
            x = orig_pre(*a, **k)
            rec["image_in"] = x.clone()
            return x

        def encode(x, *a, **k):
            res = orig_encode(x, *a, **k)
            rec["moments"] = res.latent_dist.parameters.clone()
            return res

        def decode(z, *a, **k):
            res = orig_decode(z, *a, **k)
            rec["image"] = res[0].clone()
            return res

        def prepare(*a, **k):
            lat = orig["prepare_latents"](*a, **k)
            rec["prepared"] = lat.clone()
            return lat

        def get_timesteps(*a, **k):
            ts, n = orig["get_timesteps"](*a, **k)
            rec["run_timesteps"] = ts.clone()
            return ts, n

        def on_step(p, i, t, kw):
            rec["steps"][i] = kw["latents"].clone()
            return {}

        pipe.image_processor.preprocess = preprocess
        pipe.vae.encode = encode
        pipe.vae.decode = decode
        pipe.prepare_latents = prepare
        pipe.get_timesteps = get_timesteps
        try:
            gen = torch.Generator("cpu").manual_seed(r["seed"])
            with torch.no_grad():
                out = pipe(prompt_embeds=embeds["prompt"], negative_prompt_embeds=embeds[r["negative"]], image=pil,
                           strength=r["strength"], num_inference_steps=STEPS, guidance_scale=r["g"], generator=gen,
                           output_type="pil", callback_on_step_end=on_step,
                           callback_on_step_end_tensor_inputs=["latents"])
        finally:
            del pipe.image_processor.preprocess, pipe.vae.encode, pipe.vae.decode
            del pipe.prepare_latents, pipe.get_timesteps
        img = np.array(out.images[0])
        assert img.shape == (HEIGHT, WIDTH, 3)
        sched = pipe.scheduler
        # the two draws, recomputed from a fresh generator: latent_dist.sample's randn, then prepare_latents' noise
        g2 = torch.Generator().manual_seed(r["seed"])
        shape = (1, 4, HEIGHT // 8, WIDTH // 8)
        with torch.no_grad():
            mean, logvar = torch.chunk(rec["moments"], 2, dim=1)
            std = torch.exp(0.5 * torch.clamp(logvar, -30.0, 20.0))
            sample = torch.randn(shape, generator=g2, dtype=torch.float32)
            init_latents = pipe.vae.config.scaling_factor * (mean + std * sample)
            noise = torch.randn(shape, generator=g2, dtype=torch.float32)
            t0 = rec["run_timesteps"][:1]
            fresh = SCHEDULERS[type(sched).__name__].from_config(sched.config)
            fresh.set_timesteps(STEPS)
            init_timestep = min(int(STEPS * r["strength"]), STEPS)
            t_start = max(STEPS - init_timestep, 0)
            if hasattr(fresh, "set_begin_index"):
                fresh.set_begin_index(t_start * fresh.order)
            noised = fresh.add_noise(init_latents, noise, t0)
        assert torch.equal(noised, rec["prepared"]), name + ": draw order differs from the pipeline's"
        m = len(rec["run_timesteps"])
        assert len(rec["steps"]) == m, (name, len(rec["steps"]), m)
        golden[name + ".image_in"] = rec["image_in"]
        golden[name + ".moments"] = rec["moments"]
        golden[name + ".vae_sample"] = sample
        golden[name + ".init_latents"] = init_latents
        golden[name + ".noise"] = noise
        golden[name + ".noised_latents"] = rec["prepared"]
        golden[name + ".timesteps"] = sched.timesteps.to(torch.float64)
        store_trajectory(golden, name, rec, img)
        notes_runs.append({
            "name": name,
            "scheduler_class": type(sched).__name__,
            "diffusers": "StableDiffusionImg2ImgPipeline.__call__(image=init.png, strength=%s, num_inference_steps=%d,"
                         " guidance_scale=%s, generator=torch.Generator('cpu').manual_seed(%d), output_type='pil'); "
                         "scheduler %s" % (r["strength"], STEPS, r["g"], r["seed"],
                                           "the model's PNDMScheduler" if r["scheduler"] is None
                                           else r["scheduler"] + ".from_config(<the model's>.config)"),
            "t_start": t_start,
            "run_timesteps": rec["run_timesteps"].tolist(),
            "request": {"prompt": PROMPTS["prompt"], "negative_prompt": PROMPTS[r["negative"]],
                        "negative_key": r["negative"], "width": WIDTH, "height": HEIGHT, "steps": STEPS,
                        "sampler": r["sampler"], "guidance": r["guidance"], "seed": r["seed"],
                        "strength": r["strength"]},
            "image_u8_mean": float(img.mean()),
        })
        print("%-28s %s t_start %d timesteps %s u8 mean %.1f" % (name, type(sched).__name__, t_start,
                                                                  rec["run_timesteps"].tolist()[:3], img.mean()))
    for k, v in golden.items():
        assert not v.is_floating_point() or v.isfinite().all(), k
    write_safetensors(golden, os.path.join(out_dir, "golden.safetensors"), {"format": "pt"})
    notes = {
        "generator": "tools/img2img-goldens/gen_img2img.py (diffusers' own StableDiffusionImg2ImgPipeline source via "
                     "the shim, transformers' own CLIPTextModel)",
        "diffusers_version": diffusers.__version__,
        "diffusers_revision": open(os.path.join(os.path.dirname(diffusers.__file__), "REVISION")).read().strip(),
        "transformers_version": transformers.__version__,
        "torch": torch.__version__,
        "model": "src/test/resources/random-model, unchanged",
        "init_image": "init.png (64x48 RGB PNG)",
        "prompts": {k: {"text": PROMPTS[k], "ids": "ids." + k, "embeds": "embeds." + k} for k in PROMPTS},
        "steps": STEPS,
        "runs": notes_runs,
    }
    write_json(notes, os.path.join(out_dir, "notes.json"))
    print({f: os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir)})


if __name__ == "__main__":
    main()
