"""Image to image with a guidance normalizer: goldens computed by diffusers' own StableDiffusionXLImg2ImgPipeline.

usage (after gen_sdxl.py's model / ids steps; see README.md):
    PYTHONPATH=SHIM /usr/bin/python3 gen_sdxl_img2img.py SDXL_DIR INIT_PNG OUT_DIR IDS_JSON IDS2_JSON
        runs diffusers' StableDiffusionXLImg2ImgPipeline.__call__ (pipeline_stable_diffusion_xl_img2img.py, unchanged
        source) on SDXL_DIR/model with image=INIT_PNG for every RUNS entry, guidance_rescale 0.7 (diffusers'
        rescale_noise_cfg, called by the pipeline itself); writes OUT_DIR/golden.safetensors and notes.json

The pipeline is built as gen_sdxl.py builds StableDiffusionXLPipeline (same components, IdsTokenizer serving the
ids of our Java ClipTokenizer, requires_aesthetics_score False as SDXL base's model_index has it, no watermark).
Only observation is added: wrappers that record what preprocess / vae.encode / prepare_latents / get_timesteps /
vae.decode return, and callback_on_step_end for the latents after every step.

golden.safetensors keys (per run):
    ids.tokenizer.<key>, ids.tokenizer_2.<key>    i64 [1, 77]
    <run>.image_in        f32 [1, 3, H, W]  image_processor.preprocess(init.png)
    <run>.moments         f32 [1, 8, h, w]  the VAE encoder's output (latent_dist.parameters)
    <run>.vae_sample      f32 [1, 4, h, w]  the generator's first draw (latent_dist.sample's randn)
    <run>.init_latents    f32 [1, 4, h, w]  scaling_factor * (mean + std * vae_sample)
    <run>.noise           f32 [1, 4, h, w]  the generator's second draw (prepare_latents' randn_tensor)
    <run>.noised_latents  f32 [1, 4, h, w]  prepare_latents' result
    <run>.prompt_embeds [2, 77, 72], <run>.add_text_embeds [2, 24], <run>.add_time_ids [2, 6]  (step 0)
    <run>.timesteps, <run>.run_timesteps (f64)
    <run>.stepI.latents, <run>.final_latents, <run>.image, <run>.image_u8
"""
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_sdxl  # noqa: E402  (its imports set up the reference environment: see gen_sdxl.py)
from gen_sdxl import (EOS, PROMPTS, WIDTH, HEIGHT, STEPS, IdsTokenizer, common_notes, load_text_encoder,  # noqa
                      load_diffusers, read_json, write_json, write_safetensors, _TorchBaddbmmFix, _TorchFullFix)
import torch  # noqa: E402
import PIL.Image  # noqa: E402
import diffusers  # noqa: E402
import diffusers.models.attention_processor as attention_processor  # noqa: E402
from diffusers.models.attention_processor import Attention, AttnProcessor  # noqa: E402
from diffusers.models import AutoencoderKL, UNet2DConditionModel  # noqa: E402
from diffusers.schedulers import DPMSolverMultistepScheduler, EulerDiscreteScheduler  # noqa: E402
from diffusers.pipelines.stable_diffusion_xl.pipeline_stable_diffusion_xl_img2img import (  # noqa: E402
    StableDiffusionXLImg2ImgPipeline)
from transformers import CLIPTextModel, CLIPTextModelWithProjection  # noqa: E402

STRENGTH = 0.6
RUNS = [
    dict(name="euler_s0.6_cfg5_rescale0.7", scheduler=None, seed=2024, g=5.0, rescale=0.7, sampler="euler",
         guidance='{"normalizer":"rescale","g":5,"phi":0.7}'),
    dict(name="dpmpp2m_s0.6_cfg6_rescale0.7", scheduler="DPMSolverMultistepScheduler", seed=3000000000, g=6.0,
         rescale=0.7, sampler="dpmpp_2m", guidance='{"normalizer":"rescale","g":6,"phi":0.7}'),
]


def main():
    sdxl_dir, init_png, out_dir, ids_json, ids2_json = sys.argv[1:6]
    torch.set_num_threads(1)
    attention_processor.torch = _TorchBaddbmmFix()
    import transformers.modeling_attn_mask_utils as mask_utils
    mask_utils.torch = _TorchFullFix()
    os.makedirs(out_dir, exist_ok=True)
    model_dir = os.path.join(sdxl_dir, "model")
    docs = {"tokenizer": read_json(ids_json), "tokenizer_2": read_json(ids2_json)}
    assert docs["tokenizer"]["pad_id"] == EOS and docs["tokenizer_2"]["pad_id"] == 0
    sched = EulerDiscreteScheduler.from_config(read_json(os.path.join(model_dir, "scheduler", "scheduler_config.json")))
    index = read_json(os.path.join(model_dir, "model_index.json"))
    pipe = StableDiffusionXLImg2ImgPipeline(
        vae=load_diffusers(AutoencoderKL, os.path.join(model_dir, "vae")),
        text_encoder=load_text_encoder(os.path.join(model_dir, "text_encoder"), CLIPTextModel),
        text_encoder_2=load_text_encoder(os.path.join(model_dir, "text_encoder_2"), CLIPTextModelWithProjection),
        tokenizer=IdsTokenizer(docs["tokenizer"]), tokenizer_2=IdsTokenizer(docs["tokenizer_2"]),
        unet=load_diffusers(UNet2DConditionModel, os.path.join(model_dir, "unet")), scheduler=sched,
        requires_aesthetics_score=index.get("requires_aesthetics_score", False),
        force_zeros_for_empty_prompt=index["force_zeros_for_empty_prompt"])
    assert pipe.watermark is None and not pipe.config.requires_aesthetics_score
    for m in list(pipe.unet.modules()) + list(pipe.vae.modules()):
        if isinstance(m, Attention):
            assert type(m.processor) is AttnProcessor, type(m.processor)
    pil = PIL.Image.open(init_png).convert("RGB")
    assert pil.size == (WIDTH, HEIGHT), pil.size
    golden = {}
    for tk, doc in docs.items():
        for key, e in doc["ids"].items():
            assert e["text"] == PROMPTS[key]
            golden["ids.%s.%s" % (tk, key)] = torch.tensor([e["ids"]], dtype=torch.int64)
    notes_runs = []
    for r in RUNS:
        name = r["name"]
        pipe.scheduler = sched if r["scheduler"] is None else DPMSolverMultistepScheduler.from_config(sched.config)
        rec = {"steps": {}, "cond": None}
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
            rec["decode_in"] = z.clone()
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
            if i == 0:
                rec["cond"] = {k: kw[k].clone() for k in ("prompt_embeds", "add_text_embeds", "add_time_ids")}
            return {}

        pipe.image_processor.preprocess = preprocess
        pipe.vae.encode = encode
        pipe.vae.decode = decode
        pipe.prepare_latents = prepare
        pipe.get_timesteps = get_timesteps
        try:
            with torch.no_grad():
                out = pipe(prompt=PROMPTS["prompt"], negative_prompt=PROMPTS["negative"], image=pil,
                           strength=STRENGTH, num_inference_steps=STEPS, guidance_scale=r["g"],
                           guidance_rescale=r["rescale"], generator=torch.Generator("cpu").manual_seed(r["seed"]),
                           output_type="pil", callback_on_step_end=on_step,
                           callback_on_step_end_tensor_inputs=["latents", "prompt_embeds", "add_text_embeds",
                                                               "add_time_ids"])
        finally:
            del pipe.image_processor.preprocess, pipe.vae.encode, pipe.vae.decode
            del pipe.prepare_latents, pipe.get_timesteps
        img = np.array(out.images[0])
        assert img.dtype == np.uint8 and img.shape == (HEIGHT, WIDTH, 3)
        s = pipe.scheduler
        # the two draws, recomputed from a fresh generator: latent_dist.sample's randn, then prepare_latents' noise
        g2 = torch.Generator().manual_seed(r["seed"])
        shape = (1, 4, HEIGHT // pipe.vae_scale_factor, WIDTH // pipe.vae_scale_factor)
        init_timestep = min(int(STEPS * STRENGTH), STEPS)
        t_start = max(STEPS - init_timestep, 0)
        with torch.no_grad():
            mean, logvar = torch.chunk(rec["moments"], 2, dim=1)
            std = torch.exp(0.5 * torch.clamp(logvar, -30.0, 20.0))
            sample = torch.randn(shape, generator=g2, dtype=torch.float32)
            init_latents = pipe.vae.config.scaling_factor * (mean + std * sample)
            noise = torch.randn(shape, generator=g2, dtype=torch.float32)
            fresh = type(s).from_config(s.config)
            fresh.set_timesteps(STEPS)
            fresh.set_begin_index(t_start * fresh.order)
            noised = fresh.add_noise(init_latents, noise, rec["run_timesteps"][:1])
        assert torch.equal(noised, rec["prepared"]), name + ": draw order differs from the pipeline's"
        m = len(rec["run_timesteps"])
        assert m == STEPS - t_start and len(rec["steps"]) == m, (name, len(rec["steps"]), m)
        final = rec["steps"][m - 1]
        assert torch.equal(rec["decode_in"], final / pipe.vae.config.scaling_factor), name
        golden[name + ".image_in"] = rec["image_in"]
        golden[name + ".moments"] = rec["moments"]
        golden[name + ".vae_sample"] = sample
        golden[name + ".init_latents"] = init_latents
        golden[name + ".noise"] = noise
        golden[name + ".noised_latents"] = rec["prepared"]
        for k, v in rec["cond"].items():
            golden["%s.%s" % (name, k)] = v
        golden[name + ".timesteps"] = s.timesteps.to(torch.float64)
        golden[name + ".run_timesteps"] = rec["run_timesteps"].to(torch.float64)
        for i in range(m):
            golden["%s.step%d.latents" % (name, i)] = rec["steps"][i]
        golden[name + ".final_latents"] = final
        golden[name + ".image"] = rec["image"]
        golden[name + ".image_u8"] = torch.from_numpy(img.copy())
        notes_runs.append({
            "name": name,
            "scheduler_class": type(s).__name__,
            "diffusers": "StableDiffusionXLImg2ImgPipeline.__call__(prompt=PROMPT, negative_prompt=%r, image=init.png, "
                         "strength=%s, num_inference_steps=%d, guidance_scale=%s, guidance_rescale=%s, "
                         "generator=torch.Generator('cpu').manual_seed(%d), output_type='pil')%s" % (
                             PROMPTS["negative"], STRENGTH, STEPS, r["g"], r["rescale"], r["seed"],
                             "" if r["scheduler"] is None else
                             "; pipe.scheduler = DPMSolverMultistepScheduler.from_config(<EulerDiscrete>.config)"),
            "t_start": t_start,
            "run_timesteps": rec["run_timesteps"].tolist(),
            "add_time_ids": rec["cond"]["add_time_ids"].tolist(),
            "request": {"prompt": PROMPTS["prompt"], "negative_prompt": PROMPTS["negative"], "width": WIDTH,
                        "height": HEIGHT, "steps": STEPS, "sampler": r["sampler"], "guidance": r["guidance"],
                        "seed": r["seed"], "strength": STRENGTH},
            "final_latents_rms": final.pow(2).mean().sqrt().item(),
            "image_u8_mean": float(img.mean()),
        })
        print("%-30s %s t_start %d timesteps %s final rms %.4f u8 mean %.1f" % (
            name, type(s).__name__, t_start, rec["run_timesteps"].tolist(), notes_runs[-1]["final_latents_rms"],
            img.mean()))
    for k, v in golden.items():
        assert not v.is_floating_point() or v.isfinite().all(), k
    write_safetensors(golden, os.path.join(out_dir, "golden.safetensors"), {"format": "pt"})
    notes = {"generator": "tools/sdxl-goldens/gen_sdxl_img2img.py (diffusers' own StableDiffusionXLImg2ImgPipeline "
                          "source; guidance_rescale is the pipeline's own rescale_noise_cfg)",
             "model": "parity-extra/sdxl/model", "init_image": "parity-extra/img2img/init.png (64x48 RGB PNG)",
             "prompts": PROMPTS, "size": {"width": WIDTH, "height": HEIGHT}, "steps": STEPS, "runs": notes_runs,
             "tokenizer": "ids made by our Java ClipTokenizer (TokenizePrompts.java), served by IdsTokenizer"}
    notes.update(common_notes())
    write_json(notes, os.path.join(out_dir, "notes.json"))
    print(os.path.getsize(os.path.join(out_dir, "golden.safetensors")))


if __name__ == "__main__":
    main()
