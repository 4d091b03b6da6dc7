"""Textual-inversion goldens: diffusers' own load_textual_inversion on the tiny demo model's text encoder.

usage: PYTHONPATH=SHIM_DIR:TRANSFORMERS_DIR OMP_NUM_THREADS=1 python gen_ti.py MODEL_DIR OUT_DIR
(SHIM_DIR is made by make_shim.sh; see README.md.)

Writes OUT_DIR/tiny-ti.safetensors, a random 2-vector embedding [2, hidden] stored under A1111's key `emb_params`,
and OUT_DIR/golden.safetensors: for the prompt PROMPT (the embedding's name used as diffusers' token, i.e. the
token passed to load_textual_inversion), `ids` = the tokenizer's padded input ids after diffusers'
maybe_convert_prompt (int64 [1, 77]) and, per dtype, `last_hidden_state.f64` / `.f32` from the text encoder whose
token-embedding table load_textual_inversion extended (model(ids) as StableDiffusionPipeline.encode_prompt calls it).
"""
import copy
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from safetensors_io import read_safetensors, write_safetensors  # noqa: E402  (tools/safetensors_io.py)

# transformers 4.57.6 pins huggingface-hub < 1.0 at import time; this venv has 1.x, whose API the tokenizer and
# model code used here do not touch (no hub access happens). Skip only that version check.
import types  # noqa: E402
_dvc = types.ModuleType("transformers.dependency_versions_check")
_dvc.dep_version_check = lambda *a, **k: None
sys.modules[_dvc.__name__] = _dvc

from diffusers.loaders.textual_inversion import TextualInversionLoaderMixin  # noqa: E402
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer  # noqa: E402
import transformers.modeling_attn_mask_utils as mask_utils  # noqa: E402
import transformers.models.clip.modeling_clip as modeling_clip  # noqa: E402


# The clip goldens' two float64 fixes of transformers' eager CLIP (tools/clip-goldens/gen_clip.py explains both;
# importing them from there would pull in the UNet goldens' diffusers shim): in float64 eager attention's
# softmax(dtype=float32) stays float64, and the causal mask's dtype-less torch.full of finfo(float64).min is made
# in float64. float32 runs are untouched.
class _Nn64:
    class F:
        def __getattr__(self, k):
            return getattr(torch.nn.functional, k)

        @staticmethod
        def softmax(x, dim=None, dtype=None, **kw):
            return torch.nn.functional.softmax(x, dim=dim, dtype=x.dtype if x.dtype == torch.float64 else dtype, **kw)

    functional = F()

    def __getattr__(self, k):
        return getattr(torch.nn, k)


class _Torch64Full:
    def __getattr__(self, k):
        return getattr(torch, k)

    @staticmethod
    def full(size, value, **kw):
        if "dtype" not in kw and isinstance(value, float) and abs(value) > torch.finfo(torch.float32).max:
            kw["dtype"] = torch.float64
        return torch.full(size, value, **kw)

NAME = "tiny-ti"
PROMPT = "a photo of tiny-ti on a table"


class Pipe(TextualInversionLoaderMixin):
    """The attributes load_textual_inversion reads from a pipeline."""
    hf_device_map = None
    components = {}


def main():
    model, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    cfg = CLIPTextConfig.from_pretrained(os.path.join(model, "text_encoder"))
    cfg._attn_implementation = "eager"  # as the Java ClipTextModel and the clip goldens compute attention
    mask_utils.torch = _Torch64Full()
    g = torch.Generator().manual_seed(16)
    emb = torch.randn(2, cfg.hidden_size, generator=g, dtype=torch.float64).float()
    write_safetensors({"emb_params": emb}, os.path.join(out, NAME + ".safetensors"))
    state = read_safetensors(os.path.join(model, "text_encoder", "model.safetensors"))
    golden = {}
    for dtype, tag in ((torch.float64, "f64"), (torch.float32, "f32")):
        tok = CLIPTokenizer.from_pretrained(os.path.join(model, "tokenizer"))  # the slow tokenizer SD pipelines use
        te = CLIPTextModel(copy.deepcopy(cfg))  # resize_token_embeddings changes its config
        te.text_model.load_state_dict({k: v for k, v in state.items() if k != "embeddings.position_ids"}, strict=True)
        te = te.to(dtype).eval()
        modeling_clip.nn = _Nn64() if dtype == torch.float64 else torch.nn
        pipe = Pipe()
        # a .safetensors embedding loads as a one-key state dict; diffusers takes its tensor and the given token
        pipe.load_textual_inversion({"emb_params": emb.clone()}, token=NAME, tokenizer=tok, text_encoder=te)
        prompt = pipe.maybe_convert_prompt(PROMPT, tok)
        ids = tok(prompt, padding="max_length", max_length=cfg.max_position_embeddings, truncation=True,
                  return_tensors="pt").input_ids
        with torch.no_grad():
            golden["last_hidden_state." + tag] = te(ids)[0].contiguous()
        golden["ids"] = ids.to(torch.int64)
        print(tag, prompt, ids[0, :12].tolist())
    write_safetensors(golden, os.path.join(out, "golden.safetensors"))


if __name__ == "__main__":
    main()
