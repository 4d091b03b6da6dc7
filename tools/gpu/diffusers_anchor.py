"""Diffusers anchor for the Java benchmark, on the same card: SD1.5's UNet2DConditionModel (its config, random
weights, no download) in fp16, one UNet step at batch 2 (one image with CFG) and batch 8, timed

  eager          diffusers' default attention (scaled_dot_product_attention)
  eager_classic  AttnProcessor (bmm + softmax + bmm), the same attention arithmetic as the Java UNet
                 (Ops.scaledAttention), so the pair brackets the comparison
  graph          the default model's step captured once as a CUDA graph and replayed (kernel time without host cost)

with host issue time (until the call returns, before synchronising) and, at batch 2, the number of CUDA kernels per
step from the profiler. Called by run.sh; usage: python diffusers_anchor.py --out anchor.json [--iters 20]
"""
import argparse
import json
import os
import statistics
import time

import torch
import diffusers

try:
    from diffusers import UNet2DConditionModel
    SOURCE = "installed package"
except ImportError:  # the kit's shim: diffusers' own UNet sources, only hub/config plumbing stubbed (run.sh)
    from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
    SOURCE = "kit shim (tools/unet-goldens/make_shim.sh), diffusers sources at " + open(
        os.path.join(os.path.dirname(diffusers.__file__), "REVISION")).read().strip()
from diffusers.models.attention_processor import AttnProcessor

SD15_UNET = dict(
    sample_size=64, in_channels=4, out_channels=4, center_input_sample=False, flip_sin_to_cos=True, freq_shift=0,
    down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    block_out_channels=(320, 640, 1280, 1280), layers_per_block=2, downsample_padding=1, mid_block_scale_factor=1,
    act_fn="silu", norm_num_groups=32, norm_eps=1e-5, cross_attention_dim=768, attention_head_dim=8,
)


def timed(step, warmup, iters):
    for _ in range(warmup):
        step()
    torch.cuda.synchronize()
    wall, issue = [], []
    for _ in range(iters):
        t0 = time.perf_counter()
        step()
        t1 = time.perf_counter()
        torch.cuda.synchronize()
        t2 = time.perf_counter()
        issue.append((t1 - t0) * 1e3)
        wall.append((t2 - t0) * 1e3)
    return {"median_ms": round(statistics.median(wall), 3), "min_ms": round(min(wall), 3),
            "host_issue_median_ms": round(statistics.median(issue), 3)}


def kernels_per_step(step):
    from torch.profiler import ProfilerActivity, profile
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        step()
        torch.cuda.synchronize()
    return sum(1 for e in prof.events() if getattr(e, "device_type", None) == torch.autograd.DeviceType.CUDA)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--batches", default="2,8")
    a = ap.parse_args()
    dev = torch.device("cuda")
    report = {"what": "diffusers UNet2DConditionModel, SD1.5 config, random weights, fp16, 64x64 latents (512 px)",
              "diffusers": diffusers.__version__, "diffusers_source": SOURCE, "torch": torch.__version__, "cuda": torch.version.cuda,
              "device": torch.cuda.get_device_name(0), "iters": a.iters, "warmup": a.warmup, "results": {}}

    def save():
        with open(a.out, "w") as f:
            json.dump(report, f, indent=1)

    torch.manual_seed(0)
    t0 = time.perf_counter()
    with torch.device(dev):
        unet = UNet2DConditionModel(**SD15_UNET)
    unet = unet.to(torch.float16).eval()
    report["build_s"] = round(time.perf_counter() - t0, 1)
    report["attention_default"] = type(next(iter(unet.attn_processors.values()))).__name__
    save()
    with torch.inference_mode():
        for b in [int(x) for x in a.batches.split(",")]:
            r = {}
            x = torch.randn(b, 4, 64, 64, device=dev, dtype=torch.float16)
            t = torch.tensor(999, device=dev)
            ehs = torch.randn(b, 77, 768, device=dev, dtype=torch.float16)

            def step():
                return unet(x, t, encoder_hidden_states=ehs, return_dict=False)[0]

            r.update({"eager_" + k: v for k, v in timed(step, a.warmup, a.iters).items()})
            if b == 2:
                try:
                    r["kernels_per_step"] = kernels_per_step(step)
                except Exception as e:  # the profiler is optional
                    r["kernels_per_step"] = "n/a: %s" % type(e).__name__
            report["results"]["batch%d" % b] = r
            save()
            # CUDA graph of the default model: static inputs, captured after warm-up on a side stream
            try:
                s = torch.cuda.Stream()
                s.wait_stream(torch.cuda.current_stream())
                with torch.cuda.stream(s):
                    for _ in range(3):
                        step()
                torch.cuda.current_stream().wait_stream(s)
                g = torch.cuda.CUDAGraph()
                with torch.cuda.graph(g):
                    step()
                r.update({"graph_" + k: v for k, v in timed(g.replay, a.warmup, a.iters).items()
                          if k != "host_issue_median_ms"})
                del g
            except Exception as e:
                r["graph"] = "failed: %s: %s" % (type(e).__name__, str(e)[:200])
            save()
        try:
            unet.set_attn_processor(AttnProcessor())
            for b in [int(x) for x in a.batches.split(",")]:
                x = torch.randn(b, 4, 64, 64, device=dev, dtype=torch.float16)
                t = torch.tensor(999, device=dev)
                ehs = torch.randn(b, 77, 768, device=dev, dtype=torch.float16)
                r = timed(lambda: unet(x, t, encoder_hidden_states=ehs, return_dict=False)[0], a.warmup, a.iters)
                report["results"]["batch%d" % b].update({"eager_classic_" + k: v for k, v in r.items()})
                save()
        except Exception as e:
            report["eager_classic"] = "failed: %s: %s" % (type(e).__name__, str(e)[:200])
    save()
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
