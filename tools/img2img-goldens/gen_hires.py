"""High-resolution second pass (A1111's "hires fix") goldens, every stage computed by the reference libraries' code.

usage (see README.md):
    PYTHONPATH=SHIM python3 gen_hires.py DEMO_MODEL OUT_DIR

A1111 (modules/processing.py, StableDiffusionProcessingTxt2Img.sample / sample_hr_pass) generates at the requested
size, upscales, and runs image to image at the larger size with the same prompt, guidance and sampler. Here each
stage is the reference's own code:

1. first pass: diffusers' own StableDiffusionPipeline.__call__ at 48x32 (12 steps, generator manual_seed(seed));
   output_type "latent" for the latent upscaler, "pil" for Lanczos;
2. upscale, to the target size (int(side * scale) rounded down to a multiple of 8; A1111 takes int(side * scale) and
   its latent upscale the // 8 of it):
   - "latent": torch.nn.functional.interpolate(latents, size=(H // 8, W // 8), mode="bilinear", antialias=False),
     A1111's "Latent" entry of shared.latent_upscale_modes;
   - "lanczos": the first pass's PIL image .resize((W, H), PIL.Image.LANCZOS) in 8 bits (A1111's Lanczos upscaler);
3. second pass: diffusers' own StableDiffusionImg2ImgPipeline.__call__ at the target size, image = the upscaled
   latents (4 channels: prepare_latents takes them as init_latents, no VAE encode) or the upscaled PIL image,
   strength, num_inference_steps = the hires steps (0: the first pass's), a fresh generator manual_seed(seed) (A1111
   makes a new ImageRNG from the seeds for the second pass).

golden.safetensors keys (ids.<key> / embeds.<key> as gen_img2img.py):
    <run>.first.final_latents   f32 [1, 4, 4, 6]    the first pass's final latents
    <run>.first.image_u8        u8  [32, 48, 3]     lanczos runs: the first pass's PIL image
    <run>.upscaled_latents      f32 [1, 4, h, w]    latent runs: the interpolated latents
    <run>.upscaled_u8           u8  [H, W, 3]       lanczos runs: the resized PIL image
    <run>.moments, <run>.vae_sample                 lanczos runs: the VAE encoder's output and latent_dist.sample's randn
    <run>.noise                 f32 [1, 4, h, w]    prepare_latents' randn (after vae_sample for lanczos)
    <run>.noised_latents        f32 [1, 4, h, w]    prepare_latents' result
    <run>.run_timesteps, <run>.stepI.latents, <run>.final_latents, <run>.image, <run>.image_u8   the second pass
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "pipeline-goldens"))

import gen_img2img  # noqa: E402  (gen_pipeline's set-up, the img2img pipeline, prompt embeddings, trajectories)
from gen_img2img import SCHEDULERS, PROMPTS, prompt_embeddings, store_trajectory  # noqa: E402
from gen_pipeline import read_json, write_json, _TorchBaddbmmFix  # noqa: E402
from gen_unet import write_safetensors  # noqa: E402
import torch  # noqa: E402
import PIL  # noqa: E402
import PIL.Image  # noqa: E402
import diffusers  # noqa: E402
import transformers  # noqa: E402
import diffusers.models.attention_processor as attention_processor  # noqa: E402
from diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion import StableDiffusionPipeline  # noqa: E402

WIDTH, HEIGHT, STEPS = 48, 32, 12

# name, scheduler (None: the model's PNDMScheduler), seed, negative key, guidance scale, hires: scale, steps (0 = the
# first pass's), strength, upscaler; the Java request's sampler and guidance
RUNS = [
    dict(name="latent_x2_euler_s0.6_cfg7.5", scheduler="EulerDiscreteScheduler", seed=31337, negative="negative",
         g=7.5, scale=2.0, hr_steps=0, strength=0.6, upscaler="latent", sampler="euler", guidance="7.5"),
    dict(name="latent_x1.5_pndm_s0.7_cfg7.5", scheduler=None, seed=99, negative="negative", g=7.5, scale=1.5,
         hr_steps=10, strength=0.7, upscaler="latent", sampler=None, guidance="7.5"),
    dict(name="lanczos_x1.5_dpmpp_2m_s0.5_cfg6", scheduler="DPMSolverMultistepScheduler", seed=2024,
         negative="empty", g=6.0, scale=1.5, hr_steps=8, strength=0.5, upscaler="lanczos", sampler="dpmpp_2m",
         guidance="6"),
    dict(name="lanczos_x2_euler_ancestral_s0.45_cfg5", scheduler="EulerAncestralDiscreteScheduler", seed=5,
         negative="negative", g=5.0, scale=2.0, hr_steps=0, strength=0.45, upscaler="lanczos",
         sampler="euler_ancestral", guidance="5"),
]


def target_side(side, scale):
    """A1111's int(side * hr_scale), rounded down to a multiple of 8 (the VAE's scale factor)."""
    return int(side * scale) // 8 * 8


def scheduler_for(model_scheduler, r):
    cls = type(model_scheduler) if r["scheduler"] is None else SCHEDULERS[r["scheduler"]]
    return cls.from_config(model_scheduler.config)


def first_pass(i2i, model_scheduler, embeds, r):
    """diffusers' StableDiffusionPipeline at WIDTH x HEIGHT; returns (final latents, PIL image or None)."""
    t2i = StableDiffusionPipeline(vae=i2i.vae, text_encoder=i2i.text_encoder, tokenizer=None, unet=i2i.unet,
                                  scheduler=scheduler_for(model_scheduler, r), safety_checker=None,
                                  feature_extractor=None, requires_safety_checker=False)
    steps = {}

    def on_step(p, i, t, kw):
        steps[i] = kw["latents"].clone()
        return {}

    gen = torch.Generator("cpu").manual_seed(r["seed"])
    with torch.no_grad():
        out = t2i(prompt_embeds=embeds["prompt"], negative_prompt_embeds=embeds[r["negative"]], height=HEIGHT,
                  width=WIDTH, num_inference_steps=STEPS, guidance_scale=r["g"], generator=gen,
                  output_type="latent" if r["upscaler"] == "latent" else "pil", callback_on_step_end=on_step,
                  callback_on_step_end_tensor_inputs=["latents"])
    final = steps[max(steps)]
    if r["upscaler"] == "latent":
        assert torch.equal(out.images, final)
        return final, None
    return final, out.images[0]


def second_pass(i2i, model_scheduler, embeds, r, image, hr_steps):
    """diffusers' StableDiffusionImg2ImgPipeline on image (latents or PIL) with a fresh generator; returns the record."""
    i2i.scheduler = scheduler_for(model_scheduler, r)
    rec = {"steps": {}}
    orig_encode, orig_decode = i2i.vae.encode, i2i.vae.decode
    orig_prepare, orig_get = i2i.prepare_latents, i2i.get_timesteps

    def encode(x, *a, **k):
        res = orig_encode(x, *a, **k)
        rec["moments"] = res.latent_dist.parameters.clone()
        return res

    def decode(z, *a, **k):
        res = orig_decode(z, *a, **k)
        rec["image"] = res[0].clone()
        return res

    def prepare(*a, **k):
        lat = orig_prepare(*a, **k)
        rec["prepared"] = lat.clone()
        return lat

    def get_timesteps(*a, **k):
        ts, n = orig_get(*a, **k)
        rec["run_timesteps"] = ts.clone()
        return ts, n

    def on_step(p, i, t, kw):
        rec["steps"][i] = kw["latents"].clone()
        return {}

    i2i.vae.encode, i2i.vae.decode = encode, decode
    i2i.prepare_latents, i2i.get_timesteps = prepare, get_timesteps
    try:
        gen = torch.Generator("cpu").manual_seed(r["seed"])
        with torch.no_grad():
            out = i2i(prompt_embeds=embeds["prompt"], negative_prompt_embeds=embeds[r["negative"]], image=image,
                      strength=r["strength"], num_inference_steps=hr_steps, guidance_scale=r["g"], generator=gen,
                      output_type="pil", callback_on_step_end=on_step, callback_on_step_end_tensor_inputs=["latents"])
    finally:
        del i2i.vae.encode, i2i.vae.decode, i2i.prepare_latents, i2i.get_timesteps
    rec["out"] = np.array(out.images[0])
    return rec


def main():
    demo, out_dir = sys.argv[1:3]
    torch.set_num_threads(1)
    attention_processor.torch = _TorchBaddbmmFix()
    os.makedirs(out_dir, exist_ok=True)
    i2i = gen_img2img.load_pipeline(demo)
    model_scheduler = i2i.scheduler
    golden, embeds = prompt_embeddings(i2i.text_encoder)
    notes_runs = []
    for r in RUNS:
        name = r["name"]
        tw, th = target_side(WIDTH, r["scale"]), target_side(HEIGHT, r["scale"])
        hr_steps = r["hr_steps"] or STEPS
        first_latents, first_image = first_pass(i2i, model_scheduler, embeds, r)
        golden[name + ".first.final_latents"] = first_latents
        if r["upscaler"] == "latent":
            upscaled = torch.nn.functional.interpolate(first_latents, size=(th // 8, tw // 8), mode="bilinear",
                                                       antialias=False)
            golden[name + ".upscaled_latents"] = upscaled
            start = upscaled
        else:
            assert first_image.size == (WIDTH, HEIGHT)
            golden[name + ".first.image_u8"] = torch.from_numpy(np.array(first_image).copy())
            start = first_image.resize((tw, th), resample=PIL.Image.LANCZOS)
            golden[name + ".upscaled_u8"] = torch.from_numpy(np.array(start).copy())
        rec = second_pass(i2i, model_scheduler, embeds, r, start, hr_steps)
        img = rec["out"]
        assert img.shape == (th, tw, 3), img.shape
        # the draws, recomputed from a fresh generator in the pipeline's order, must give its start latents exactly
        shape = (1, 4, th // 8, tw // 8)
        g2 = torch.Generator().manual_seed(r["seed"])
        with torch.no_grad():
            if r["upscaler"] == "latent":
                init_latents = start
            else:
                mean, logvar = torch.chunk(rec["moments"], 2, dim=1)
                std = torch.exp(0.5 * torch.clamp(logvar, -30.0, 20.0))
                sample = torch.randn(shape, generator=g2, dtype=torch.float32)
                init_latents = i2i.vae.config.scaling_factor * (mean + std * sample)
                golden[name + ".moments"] = rec["moments"]
                golden[name + ".vae_sample"] = sample
            noise = torch.randn(shape, generator=g2, dtype=torch.float32)
            fresh = scheduler_for(model_scheduler, r)
            fresh.set_timesteps(hr_steps)
            t_start = max(hr_steps - min(int(hr_steps * r["strength"]), hr_steps), 0)
            if hasattr(fresh, "set_begin_index"):
                fresh.set_begin_index(t_start * fresh.order)
            noised = fresh.add_noise(init_latents, noise, rec["run_timesteps"][:1])
        assert torch.equal(noised, rec["prepared"]), name + ": draw order differs from the pipeline's"
        golden[name + ".noise"] = noise
        golden[name + ".noised_latents"] = rec["prepared"]
        store_trajectory(golden, name, rec, img)
        notes_runs.append({
            "name": name,
            "scheduler_class": type(i2i.scheduler).__name__,
            "first_pass": "StableDiffusionPipeline.__call__(height=%d, width=%d, num_inference_steps=%d, "
                          "guidance_scale=%s, generator=manual_seed(%d), output_type=%r)"
                          % (HEIGHT, WIDTH, STEPS, r["g"], r["seed"], "latent" if r["upscaler"] == "latent" else "pil"),
            "upscale": ("torch.nn.functional.interpolate(latents, size=(%d, %d), mode='bilinear', antialias=False)"
                        % (th // 8, tw // 8)) if r["upscaler"] == "latent"
                       else "PIL Image.resize((%d, %d), resample=Image.LANCZOS)" % (tw, th),
            "second_pass": "StableDiffusionImg2ImgPipeline.__call__(image=<upscaled>, strength=%s, "
                           "num_inference_steps=%d, guidance_scale=%s, generator=manual_seed(%d), output_type='pil')"
                           % (r["strength"], hr_steps, r["g"], r["seed"]),
            "target": [tw, th],
            "t_start": t_start,
            "run_timesteps": rec["run_timesteps"].tolist(),
            "request": {"prompt": PROMPTS["prompt"], "negative_prompt": PROMPTS[r["negative"]],
                        "negative_key": r["negative"], "width": WIDTH, "height": HEIGHT, "steps": STEPS,
                        "sampler": r["sampler"], "guidance": r["guidance"], "seed": r["seed"],
                        "hires": {"scale": r["scale"], "steps": r["hr_steps"], "strength": r["strength"],
                                  "upscaler": r["upscaler"]}},
            "image_u8_mean": float(img.mean()),
        })
        print("%-40s %s -> %dx%d, t_start %d, %d steps run, u8 mean %.1f"
              % (name, type(i2i.scheduler).__name__, tw, th, t_start, len(rec["run_timesteps"]), img.mean()))
    for k, v in golden.items():
        assert not v.is_floating_point() or v.isfinite().all(), k
    write_safetensors(golden, os.path.join(out_dir, "golden.safetensors"), {"format": "pt"})
    notes = {
        "generator": "tools/img2img-goldens/gen_hires.py (diffusers' own StableDiffusionPipeline and "
                     "StableDiffusionImg2ImgPipeline source via the shim, torch's interpolate, PIL's LANCZOS resize)",
        "diffusers_version": diffusers.__version__,
        "diffusers_revision": open(os.path.join(os.path.dirname(diffusers.__file__), "REVISION")).read().strip(),
        "transformers_version": transformers.__version__,
        "torch": torch.__version__,
        "numpy": np.__version__,
        "pillow": PIL.__version__,
        "model": "src/test/resources/random-model, unchanged",
        "prompts": {k: {"text": PROMPTS[k], "ids": "ids." + k, "embeds": "embeds." + k} for k in PROMPTS},
        "steps": STEPS,
        "runs": notes_runs,
    }
    write_json(notes, os.path.join(out_dir, "notes.json"))
    print({f: os.path.getsize(os.path.join(out_dir, f)) for f in os.listdir(out_dir)})


if __name__ == "__main__":
    main()
