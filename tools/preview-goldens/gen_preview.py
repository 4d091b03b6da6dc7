"""Goldens for LatentPreview: A1111's "Approx cheap" live preview, run from A1111's own source.

Usage (see README.md):
    PYTHONPATH=<dir holding modules/sd_vae_approx.py> OMP_NUM_THREADS=1 /usr/bin/python3 \
        tools/preview-goldens/gen_preview.py src/test/resources/parity-extra/preview

modules/sd_vae_approx.py is A1111's file, copied unchanged; this script provides only the two infrastructure modules
it imports (modules.devices, modules.paths, neither used by cheap_approximation) when the directory does not have
them. The uint8 conversion is the four lines of A1111's modules/sd_samplers_common.py single_sample_to_image
(that file imports most of the web UI, so its lines are quoted here rather than imported).
"""
import json
import os
import sys
import types

import numpy as np
import torch


def stub_infrastructure():
    if "modules.devices" not in sys.modules:
        devices = types.ModuleType("modules.devices")
        devices.device = torch.device("cpu")
        devices.dtype = torch.float32
        sys.modules["modules.devices"] = devices
    if "modules.paths" not in sys.modules:
        paths = types.ModuleType("modules.paths")
        paths.models_path = "/nonexistent"
        paths.script_path = "/nonexistent"
        sys.modules["modules.paths"] = paths


def single_sample_to_image(sd_vae_approx, sample):
    # A1111 modules/sd_samplers_common.py, single_sample_to_image, approximation == 2 ("Approx cheap")
    x_sample = sd_vae_approx.cheap_approximation(sample) * 0.5 + 0.5
    x_sample = torch.clamp(x_sample, min=0.0, max=1.0)
    x_sample = 255. * np.moveaxis(x_sample.cpu().numpy(), 0, 2)
    x_sample = x_sample.astype(np.uint8)
    return x_sample


def main(out_dir):
    import modules  # the directory on PYTHONPATH with A1111's sd_vae_approx.py
    stub_infrastructure()
    from modules import sd_vae_approx

    torch.manual_seed(20261205)
    cases = []
    # (h, w, scale): latents of SD's typical range (|x| up to ~4) and some that clamp at both ends
    for h, w, scale in [(2, 3, 1.0), (5, 7, 2.5), (8, 8, 6.0)]:
        sample = (torch.randn(4, h, w, dtype=torch.float32) * scale).contiguous()
        rgb = single_sample_to_image(sd_vae_approx, sample)
        cases.append({
            "height": h, "width": w,
            "latent_chw": [float(v) for v in sample.flatten().tolist()],
            "rgb_hwc": [int(v) for v in rgb.flatten().tolist()],
        })
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "cheap_approx.json"), "w") as f:
        json.dump({
            "source": "A1111 modules/sd_vae_approx.py cheap_approximation (commit 0f1da661546bb165e47547bf8e368fd104d2b4a5) "
                      "+ sd_samplers_common.single_sample_to_image's uint8 conversion",
            "torch": torch.__version__, "numpy": np.__version__,
            "cases": cases}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
