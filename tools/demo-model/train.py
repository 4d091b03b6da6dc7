"""Trains the embedded demo model on procedural scenes (scenes.py) with diffusers' and transformers' own model classes
(imported through the golden tools' shims, so the saved folder is exactly what diffusers would save).

Two stages, each bounded by wall-clock minutes and resumable from its checkpoint:
  vae   AutoencoderKL, 64x64 RGB <-> 16x16x4 latents (MSE + a small KL), then scaling_factor = 1 / std(latents)
  unet  UNet2DConditionModel + CLIPTextModel, trained together on noise prediction (epsilon, SD 1.x's
        scaled-linear betas), the caption dropped (empty prompt) 10 % of the time so that classifier-free guidance works
Then `export` writes a diffusers folder (fp16 safetensors, the real CLIP tokenizer files copied from the random demo
model) and samples a sheet with a plain DDIM sampler for a look.

    PYTHONPATH=SHIM python3 tools/demo-model/train.py vae --minutes 15 --work DIR
    PYTHONPATH=SHIM python3 tools/demo-model/train.py unet --minutes 70 --work DIR
    PYTHONPATH=SHIM python3 tools/demo-model/train.py export --work DIR --out src/main/resources/demo-model

See tools/demo-model/README.md for the shim, the versions and the measured times and losses.
"""
import argparse
import json
import math
import os
import shutil
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scenes  # noqa: E402

from diffusers.models.autoencoders.autoencoder_kl import AutoencoderKL  # noqa: E402
from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel  # noqa: E402
from transformers.models.clip.configuration_clip import CLIPTextConfig  # noqa: E402
from transformers.models.clip.modeling_clip import CLIPTextModel  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TOKENIZER_DIR = os.path.join(REPO, "src", "main", "resources", "demo-model", "tokenizer")
MAX_LEN = 77
BOS, EOS = 49406, 49407

# 64x64 RGB <-> 16x16x4 latents (downscale 4, not SD's 8): at 8x8x4 a 316k-parameter VAE trained for 20 minutes
# drew small stars, triangles and squares as blobs (the analyzer read 58 % of reconstructed shapes right), and no
# UNet can draw a shape its decoder cannot
VAE_CONFIG = dict(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=[16, 32, 64],
                  down_block_types=["DownEncoderBlock2D"] * 3, up_block_types=["UpDecoderBlock2D"] * 3,
                  layers_per_block=1, norm_num_groups=8, act_fn="silu", sample_size=64, scaling_factor=1.0,
                  force_upcast=False, mid_block_add_attention=True)
# cross-attention at 8x8 and 4x4 only: attention over the 256 cells of 16x16 doubled the step time
UNET_CONFIG = dict(sample_size=16, in_channels=4, out_channels=4, block_out_channels=[32, 64, 64], layers_per_block=1,
                   down_block_types=["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
                   up_block_types=["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"], cross_attention_dim=32,
                   attention_head_dim=8, norm_num_groups=16)
TEXT_CONFIG = dict(vocab_size=49408, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                   num_attention_heads=4, max_position_embeddings=MAX_LEN, hidden_act="quick_gelu",
                   bos_token_id=BOS, eos_token_id=EOS, pad_token_id=EOS, projection_dim=32)


EULER_SCHEDULER = {"_class_name": "EulerDiscreteScheduler", "_diffusers_version": "0.40.0.dev0", "beta_end": 0.012,
                   "beta_schedule": "scaled_linear", "beta_start": 0.00085, "interpolation_type": "linear",
                   "num_train_timesteps": 1000, "prediction_type": "epsilon", "steps_offset": 1,
                   "timestep_spacing": "leading", "trained_betas": None, "use_karras_sigmas": False,
                   # read by the other samplers built from this config, as SDXL's Euler config carries them: DDIM and
                   # DDPM default to clip_sample = True, which clips these latents (std ~1) to [-1, 1] and draws nothing
                   "clip_sample": False, "set_alpha_to_one": False, "skip_prk_steps": True}


class Tokenize:
    """CLIP ids padded with EOS to 77, as the service's ClipTokenizer does for SD 1.x (pad token = EOS)."""

    def __init__(self):
        from tokenizers import Tokenizer
        self.t = Tokenizer.from_file(os.path.join(TOKENIZER_DIR, "tokenizer.json"))
        self.cache = {}

    def __call__(self, texts):
        out = np.full((len(texts), MAX_LEN), EOS, np.int64)
        for i, s in enumerate(texts):
            ids = self.cache.get(s)
            if ids is None:
                ids = self.t.encode(s).ids[:MAX_LEN]
                self.cache[s] = ids
            out[i, : len(ids)] = ids
        return torch.from_numpy(out)


def images_to_tensor(imgs):
    return torch.from_numpy(imgs).permute(0, 3, 1, 2).float() / 127.5 - 1.0


def sd_alphas_cumprod():
    betas = torch.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000, dtype=torch.float64) ** 2
    return torch.cumprod(1.0 - betas, 0).float()


def lr_at(base, t0, deadline, steps_this_run):
    """Linear warm-up over the first 200 steps of this run (a resumed run warms up again: jumping from a decayed
    rate back to the full one undoes training), then cosine decay to 5 % of base over the run's wall-clock budget
    (the budget, not a step count, bounds each stage, so the decay follows the clock)."""
    frac = min(1.0, max(0.0, (time.time() - t0) / max(1.0, deadline - t0)))
    return base * min(1.0, (steps_this_run + 1) / 200) * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * frac)))


def save_ckpt(path, **state):
    tmp = path + ".tmp"
    torch.save(state, tmp)
    os.replace(tmp, path)


def train_vae(a):
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    vae = AutoencoderKL(**VAE_CONFIG)
    opt = torch.optim.AdamW(vae.parameters(), lr=1e-3, weight_decay=0.0)
    ckpt = os.path.join(a.work, "vae.pt")
    step, log = 0, []
    if os.path.exists(ckpt):
        s = torch.load(ckpt)
        vae.load_state_dict(s["model"]); opt.load_state_dict(s["opt"]); step, log = s["step"], s["log"]
        rng = np.random.default_rng(a.seed + step)
    print("vae parameters", sum(p.numel() for p in vae.parameters()), flush=True)
    first = step
    t0, deadline = time.time(), time.time() + a.minutes * 60
    while time.time() < deadline:
        _, imgs = scenes.batch(rng, a.batch, allow_held_out=True)
        x = images_to_tensor(imgs)
        post = vae.encode(x).latent_dist
        z = post.sample()
        rec = vae.decode(z).sample
        mse = F.mse_loss(rec, x)
        kl = post.kl().mean() / (x.shape[1] * x.shape[2] * x.shape[3])
        loss = mse + 1e-4 * kl
        for grp in opt.param_groups:
            grp["lr"] = lr_at(a.lr, t0, deadline, step - first)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 50 == 0:
            log.append((step, time.time() - t0, float(mse), float(kl)))
            print("vae step %d  %.0fs  mse %.5f  kl %.3f" % log[-1], flush=True)
        if step % 500 == 0:
            save_ckpt(ckpt, model=vae.state_dict(), opt=opt.state_dict(), step=step, log=log)
    save_ckpt(ckpt, model=vae.state_dict(), opt=opt.state_dict(), step=step, log=log)
    # scaling factor as SD's: 1 / std of the latents over fresh scenes
    with torch.no_grad():
        zs = [vae.encode(images_to_tensor(scenes.batch(np.random.default_rng(99 + k), 64,
                                                          allow_held_out=True)[1])).latent_dist.sample()
              for k in range(4)]
    std = float(torch.cat(zs).std())
    with open(os.path.join(a.work, "vae_scaling.json"), "w") as f:
        json.dump({"latent_std": std, "scaling_factor": 1.0 / std, "steps": step}, f)
    print("latent std %.4f -> scaling_factor %.5f" % (std, 1.0 / std), flush=True)


def train_decoder(a):
    """Trains the VAE's decoder (and post_quant_conv) further with the encoder frozen, so that the latents a UNet is
    being trained on at the same time stay valid. Loss: MSE + L1 (L1 keeps edges sharper; the analyzer tells a star
    from a circle by its points)."""
    torch.manual_seed(a.seed + 7)
    vae = AutoencoderKL(**VAE_CONFIG)
    ckpt = os.path.join(a.work, "vae.pt")
    s = torch.load(ckpt)
    vae.load_state_dict(s["model"])
    step, log = s.get("dec_step", 0), s.get("dec_log", [])
    vae.encoder.requires_grad_(False)
    vae.quant_conv.requires_grad_(False)
    params = list(vae.post_quant_conv.parameters()) + list(vae.decoder.parameters())
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.0)
    if "dec_opt" in s:
        opt.load_state_dict(s["dec_opt"])
    rng = np.random.default_rng(a.seed + 1000 + step)
    first = step
    t0, deadline = time.time(), time.time() + a.minutes * 60

    def save():
        save_ckpt(ckpt, model=vae.state_dict(), opt=s["opt"], step=s["step"], log=s["log"], dec_opt=opt.state_dict(),
                  dec_step=step, dec_log=log)

    while time.time() < deadline:
        _, imgs = scenes.batch(rng, a.batch, allow_held_out=True)
        x = images_to_tensor(imgs)
        with torch.no_grad():
            z = vae.encode(x).latent_dist.sample()
        rec = vae.decode(z).sample
        mse = F.mse_loss(rec, x)
        l1 = (rec - x).abs().mean()
        for grp in opt.param_groups:
            grp["lr"] = lr_at(a.lr, t0, deadline, step - first)
        opt.zero_grad(set_to_none=True)
        (mse + l1).backward()
        opt.step()
        step += 1
        if step % 50 == 0:
            log.append((step, time.time() - t0, float(mse), float(l1)))
            print("decoder step %d  %.0fs  mse %.5f  l1 %.4f" % log[-1], flush=True)
        if step % 250 == 0:
            save()
    save()


def load_vae(a):
    vae = AutoencoderKL(**VAE_CONFIG)
    vae.load_state_dict(torch.load(os.path.join(a.work, "vae.pt"))["model"])
    vae.eval().requires_grad_(False)
    with open(os.path.join(a.work, "vae_scaling.json")) as f:
        return vae, json.load(f)["scaling_factor"]


def train_unet(a):
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed + 1)
    vae, scale = load_vae(a)
    unet = UNet2DConditionModel(**UNET_CONFIG)
    te = CLIPTextModel(CLIPTextConfig(**TEXT_CONFIG))
    params = list(unet.parameters()) + list(te.parameters())
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=1e-2)
    ema = [p.detach().clone() for p in params]
    ckpt = os.path.join(a.work, "unet.pt")
    step, log = 0, []
    if os.path.exists(ckpt):
        s = torch.load(ckpt)
        unet.load_state_dict(s["unet"]); te.load_state_dict(s["te"]); opt.load_state_dict(s["opt"])
        ema = s["ema"]; step, log = s["step"], s["log"]
        rng = np.random.default_rng(a.seed + 1 + step)
    print("unet parameters", sum(p.numel() for p in unet.parameters()),
          "text encoder", sum(p.numel() for p in te.parameters()), flush=True)
    ac = sd_alphas_cumprod()
    tok = Tokenize()
    first = step
    t0, deadline = time.time(), time.time() + a.minutes * 60
    while time.time() < deadline:
        sc, imgs = scenes.batch(rng, a.batch)
        caps = [s.caption() if rng.random() >= 0.1 else "" for s in sc]
        with torch.no_grad():
            z0 = vae.encode(images_to_tensor(imgs)).latent_dist.sample() * scale
        t = torch.randint(0, 1000, (a.batch,))
        noise = torch.randn_like(z0)
        abar = ac[t].view(-1, 1, 1, 1)
        zt = abar.sqrt() * z0 + (1 - abar).sqrt() * noise
        ctx = te(tok(caps)).last_hidden_state
        pred = unet(zt, t, encoder_hidden_states=ctx).sample
        loss = F.mse_loss(pred, noise)
        for grp in opt.param_groups:
            grp["lr"] = lr_at(a.lr, t0, deadline, step - first)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        step += 1
        with torch.no_grad():
            d = min(0.999, (1 + step) / (10 + step))
            for e, p in zip(ema, params):
                e.mul_(d).add_(p.detach(), alpha=1 - d)
        if step % 50 == 0:
            log.append((step, time.time() - t0, float(loss)))
            print("unet step %d  %.0fs  loss %.4f" % log[-1], flush=True)
        if step % 500 == 0:
            save_ckpt(ckpt, unet=unet.state_dict(), te=te.state_dict(), opt=opt.state_dict(), ema=ema, step=step,
                      log=log)
    save_ckpt(ckpt, unet=unet.state_dict(), te=te.state_dict(), opt=opt.state_dict(), ema=ema, step=step, log=log)


def ema_models(a):
    unet = UNet2DConditionModel(**UNET_CONFIG)
    te = CLIPTextModel(CLIPTextConfig(**TEXT_CONFIG))
    s = torch.load(os.path.join(a.work, "unet.pt"))
    params = list(unet.parameters()) + list(te.parameters())
    unet.load_state_dict(s["unet"]); te.load_state_dict(s["te"])
    with torch.no_grad():
        for p, e in zip(params, s["ema"]):
            p.copy_(e)
    return unet.eval(), te.eval(), s["step"]


def write_safetensors(path, tensors):
    """The safetensors format (header length, JSON header, little-endian data), written here because Debian has no
    python3-safetensors and the training venv should not need it either."""
    header, blobs, off = {}, [], 0
    for k in sorted(tensors):
        t = tensors[k].detach().contiguous()
        dt = {torch.float16: "F16", torch.float32: "F32", torch.int64: "I64"}[t.dtype]
        b = t.numpy().tobytes()
        header[k] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for b in blobs:
            f.write(b)


def export(a):
    vae, scale = load_vae(a)
    unet, te, step = ema_models(a)
    out = a.out
    if os.path.exists(out):
        shutil.rmtree(out)
    for sub in ["unet", "vae", "text_encoder", "tokenizer", "scheduler"]:
        os.makedirs(os.path.join(out, sub))
    half = lambda sd: {k: v.to(torch.float16) for k, v in sd.items() if v.is_floating_point()}  # noqa: E731
    write_safetensors(os.path.join(out, "unet", "diffusion_pytorch_model.safetensors"), half(unet.state_dict()))
    write_safetensors(os.path.join(out, "vae", "diffusion_pytorch_model.safetensors"), half(vae.state_dict()))
    te_sd = {k: v for k, v in te.state_dict().items() if not k.endswith("position_ids")}
    write_safetensors(os.path.join(out, "text_encoder", "model.safetensors"), half(te_sd))
    ucfg = dict(unet.config); ucfg["_class_name"] = "UNet2DConditionModel"
    vcfg = dict(vae.config); vcfg["_class_name"] = "AutoencoderKL"; vcfg["scaling_factor"] = round(scale, 5)
    for sub, cfg in [("unet", ucfg), ("vae", vcfg)]:
        cfg["_diffusers_version"] = "0.40.0.dev0"
        with open(os.path.join(out, sub, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2, sort_keys=True, default=list)
    tcfg = dict(TEXT_CONFIG, architectures=["CLIPTextModel"], model_type="clip_text_model", layer_norm_eps=1e-5,
                attention_dropout=0.0, initializer_factor=1.0, initializer_range=0.02, dtype="float16")
    with open(os.path.join(out, "text_encoder", "config.json"), "w") as f:
        json.dump(tcfg, f, indent=2, sort_keys=True)
    src = os.path.join(a.work, "template")  # the random demo model's tokenizer / scheduler / model_index
    for sub in ["tokenizer", "scheduler"]:
        for fn in os.listdir(os.path.join(src, sub)):
            shutil.copy(os.path.join(src, sub, fn), os.path.join(out, sub, fn))
    shutil.copy(os.path.join(src, "model_index.json"), os.path.join(out, "model_index.json"))
    # Euler, not the template's PNDM: on this model the 4th-order multistep samplers (PNDM's PLMS, LMS) diverge at
    # CFG 7.5 in 25 steps (the asked colour in 20/48 and 17/48 images, Euler 48/48; tools/demo-model/README.md)
    with open(os.path.join(out, "scheduler", "scheduler_config.json"), "w") as f:
        json.dump(EULER_SCHEDULER, f, indent=1, sort_keys=True)
    with open(os.path.join(out, "model_index.json")) as f:
        index = json.load(f)
    index["scheduler"] = ["diffusers", "EulerDiscreteScheduler"]
    with open(os.path.join(out, "model_index.json"), "w") as f:
        json.dump(index, f, indent=1)
    print("exported EMA weights of step", step, "to", out)


def sample_sheet(a):
    """A quick look without the service: DDIM, 25 steps, CFG 5, fixed prompts."""
    vae, scale = load_vae(a)
    unet, te, step = ema_models(a)
    tok = Tokenize()
    prompts = ["a red circle on a blue background", "a yellow star on a black background",
               "a large white square on the left on a green background", "a blue triangle on a yellow background",
               "a green star on a white background", "a purple ring on a orange background",
               "a black cross at the top on a red background",
               "a red circle on the left and a blue square on the right on a white background"]
    ac = sd_alphas_cumprod()
    ts = list(range(999, -1, -40))
    g = torch.Generator().manual_seed(0)
    rows = []
    with torch.no_grad():
        cond = te(tok(prompts)).last_hidden_state
        unc = te(tok([""] * len(prompts))).last_hidden_state
        for seed in range(3):
            z = torch.randn(len(prompts), 4, 8, 8, generator=g)
            for i, t in enumerate(ts):
                e = unet(torch.cat([z, z]), torch.tensor([t] * 2 * len(prompts)),
                         encoder_hidden_states=torch.cat([unc, cond])).sample
                eu, ec = e.chunk(2)
                eps = eu + a.cfg * (ec - eu)
                ab = ac[t]
                ab_prev = ac[ts[i + 1]] if i + 1 < len(ts) else torch.tensor(1.0)
                x0 = (z - (1 - ab).sqrt() * eps) / ab.sqrt()
                z = ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * eps
            img = vae.decode(z / scale).sample
            rows.append(((img.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy())
    from PIL import Image
    sheet = np.concatenate([np.concatenate(list(r), axis=1) for r in rows], axis=0)
    Image.fromarray(sheet).resize((sheet.shape[1] * 2, sheet.shape[0] * 2), Image.NEAREST).save(
        os.path.join(a.work, "sheet.png"))
    print("step", step, "sheet", os.path.join(a.work, "sheet.png"), "prompts:", prompts)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("stage", choices=["vae", "decoder", "unet", "export", "sheet"])
    p.add_argument("--work", required=True)
    p.add_argument("--out")
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=20261205)
    p.add_argument("--cfg", type=float, default=5.0)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    os.makedirs(a.work, exist_ok=True)
    {"vae": train_vae, "decoder": train_decoder, "unet": train_unet, "export": export, "sheet": sample_sheet}[a.stage](a)


if __name__ == "__main__":
    main()
