"""PIL's own LANCZOS resize and GaussianBlur on small deterministic images, for PilResample / PilGaussianBlur.

usage: python3 gen_pil_ops.py OUT_DIR        (numpy, torch for the writer, Pillow)

Writes OUT_DIR/golden.safetensors (uint8 arrays) and OUT_DIR/notes.json. Inputs: a 37x29 RGB and a 41x23 L image of
uniform noise with a few hard edges (numpy.random.default_rng(20261205)), and a 9x5 RGB one (radii larger than the
image). Keys:
    input.<img>                        u8 [H, W, C]
    resize.<img>.<W>x<H>               u8   img.resize((W, H), Image.LANCZOS)       up, down and mixed
    blur.<img>.r<radius>               u8   img.filter(ImageFilter.GaussianBlur(radius))
"""
import json
import os
import sys

import numpy as np
import PIL
from PIL import Image, ImageFilter

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
import torch  # noqa: E402
import safetensors_io  # noqa: E402

safetensors_io._DT[torch.uint8] = ("U8", "u1")

RESIZES = {"rgb": [(55, 43), (74, 58), (12, 9), (13, 29), (37, 60), (100, 7)],
           "grey": [(61, 34), (20, 11), (41, 5), (7, 50)],
           "tiny": [(27, 15), (3, 2)]}
RADII = [0.5, 1, 2, 4, 7.3, 12, 30]


def images():
    rng = np.random.default_rng(20261205)
    rgb = rng.integers(0, 256, size=(29, 37, 3), dtype=np.uint8)
    rgb[5:20, 10:14] = (255, 0, 0)
    rgb[:, 30:] = 255
    grey = rng.integers(0, 256, size=(23, 41), dtype=np.uint8)
    grey[8:15, 5:30] = 0
    grey[:3] = 255
    tiny = rng.integers(0, 256, size=(5, 9, 3), dtype=np.uint8)
    return {"rgb": Image.fromarray(rgb, "RGB"), "grey": Image.fromarray(grey, "L"), "tiny": Image.fromarray(tiny, "RGB")}


def u8(img):
    a = np.array(img)
    if a.ndim == 2:
        a = a[:, :, None]
    return torch.from_numpy(a.copy())


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    golden = {}
    for name, img in images().items():
        golden["input." + name] = u8(img)
        for w, h in RESIZES[name]:
            golden["resize.%s.%dx%d" % (name, w, h)] = u8(img.resize((w, h), resample=Image.LANCZOS))
        for r in RADII:
            golden["blur.%s.r%s" % (name, r)] = u8(img.filter(ImageFilter.GaussianBlur(r)))
    safetensors_io.write_safetensors(golden, os.path.join(out, "golden.safetensors"), {"format": "pt"})
    notes = {"generator": "tools/img2img-goldens/gen_pil_ops.py", "pillow": PIL.__version__, "numpy": np.__version__,
             "resizes": {k: ["%dx%d" % s for s in v] for k, v in RESIZES.items()}, "radii": RADII}
    with open(os.path.join(out, "notes.json"), "w") as f:
        json.dump(notes, f, indent=2)
        f.write("\n")
    print({f: os.path.getsize(os.path.join(out, f)) for f in os.listdir(out)})


if __name__ == "__main__":
    main()
