"""SDXL textual-inversion goldens: diffusers' own load_textual_inversion on both text encoders of the tiny SDXL model.

usage: PYTHONPATH=SHIM_DIR:TRANSFORMERS_DIR OMP_NUM_THREADS=1 python gen_ti_sdxl.py SDXL_MODEL_DIR OUT_DIR
(SHIM_DIR and TRANSFORMERS_DIR as for gen_ti.py; see README.md.)

Writes OUT_DIR/tiny-xl.safetensors, an SDXL embedding as A1111 and Civitai distribute them: `clip_l` [2, 32] for
text_encoder and `clip_g` [2, 40] for text_encoder_2 (random), and OUT_DIR/golden.safetensors. The embedding is loaded
the way diffusers documents for SDXL: load_textual_inversion(clip_g, token=NAME, text_encoder=text_encoder_2,
tokenizer=tokenizer_2) and load_textual_inversion(clip_l, token=NAME, text_encoder=text_encoder, tokenizer=tokenizer).
Then StableDiffusionXLPipeline.encode_prompt's steps for PROMPT, per tokenizer/encoder: maybe_convert_prompt, the
tokenizer padded to max_length, `text_encoder(ids, output_hidden_states=True)`, hidden_states[-2]; prompt_embeds is
the two concatenated along the channels, pooled_prompt_embeds text_encoder_2's text_embeds. Stored: `ids_1`, `ids_2`
(int64 [1, 77]), `prompt_embeds.f64/.f32` [1, 77, 72], `pooled_prompt_embeds.f64/.f32` [1, 24].
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
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer  # noqa: E402
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

NAME = "tiny-xl"
PROMPT = "a photo of tiny-xl on a table"


class Pipe(TextualInversionLoaderMixin):
    """The attributes load_textual_inversion reads from a pipeline."""
    hf_device_map = None
    components = {}


def main():
    model, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    cfgs = {}
    for c in ("text_encoder", "text_encoder_2"):
        cfgs[c] = CLIPTextConfig.from_pretrained(os.path.join(model, c))
        cfgs[c]._attn_implementation = "eager"  # as the Java ClipTextModel and the clip goldens compute attention
    mask_utils.torch = _Torch64Full()
    g = torch.Generator().manual_seed(1617)
    emb = {"clip_l": torch.randn(2, cfgs["text_encoder"].hidden_size, generator=g, dtype=torch.float64).float(),
           "clip_g": torch.randn(2, cfgs["text_encoder_2"].hidden_size, generator=g, dtype=torch.float64).float()}
    write_safetensors(emb, os.path.join(out, NAME + ".safetensors"))
    golden = {}
    for dtype, tag in ((torch.float64, "f64"), (torch.float32, "f32")):
        modeling_clip.nn = _Nn64() if dtype == torch.float64 else torch.nn
        hidden, pooled = [], None
        for i, (c, t, cls, key) in enumerate((("text_encoder", "tokenizer", CLIPTextModel, "clip_l"),
                                               ("text_encoder_2", "tokenizer_2", CLIPTextModelWithProjection, "clip_g"))):
            tok = CLIPTokenizer.from_pretrained(os.path.join(model, t))  # the slow tokenizer SDXL pipelines use
            te = cls(copy.deepcopy(cfgs[c]))  # resize_token_embeddings changes its config
            state = read_safetensors(os.path.join(model, c, "model.safetensors"))
            te.load_state_dict({k: v for k, v in state.items() if not k.endswith("position_ids")}, strict=True)
            te = te.to(dtype).eval()
            Pipe().load_textual_inversion(emb[key].clone(), token=NAME, tokenizer=tok, text_encoder=te)
            prompt = Pipe().maybe_convert_prompt(PROMPT, tok)
            ids = tok(prompt, padding="max_length", max_length=tok.model_max_length, truncation=True,
                      return_tensors="pt").input_ids
            with torch.no_grad():
                o = te(ids, output_hidden_states=True)
            hidden.append(o.hidden_states[-2])
            if i == 1:
                pooled = o[0]  # CLIPTextModelWithProjection's text_embeds
            golden["ids_%d" % (i + 1)] = ids.to(torch.int64)
            print(tag, c, prompt, ids[0, :12].tolist())
        golden["prompt_embeds." + tag] = torch.cat(hidden, dim=-1).contiguous()
        golden["pooled_prompt_embeds." + tag] = pooled.contiguous()
    write_safetensors(golden, os.path.join(out, "golden.safetensors"))


if __name__ == "__main__":
    main()
