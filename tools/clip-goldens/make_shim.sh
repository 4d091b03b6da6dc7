#!/bin/sh
# Builds a minimal importable "transformers" package holding transformers' real CLIPTextModel sources, taken
# unchanged from a transformers wheel (a zip): models/clip/modeling_clip.py, models/clip/configuration_clip.py,
# activations.py, modeling_attn_mask_utils.py, modeling_outputs.py.  Only non-numerical infrastructure is stubbed:
# PretrainedConfig (stores the keyword arguments as attributes, attention implementation "eager"), PreTrainedModel
# (a thin nn.Module holding `config`; post_init applies the model's own _init_weights), GradientCheckpointingLayer
# (a plain nn.Module: checkpointing only matters when training), the docstring/return-type decorators (identity),
# logging, caches, ONNX config, hub kernels (identity decorator), is_torchdynamo_compiling (False).
# gen_clip.py then runs with nothing but torch (Debian's 1.13.1) and numpy.
# usage: make_shim.sh TRANSFORMERS_WHEEL SHIM_DIR
set -e
WHEEL=$1; OUT=$2
rm -rf "$OUT/transformers"
/usr/bin/python3 - "$WHEEL" "$OUT" <<'PY'
import hashlib, os, re, sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(wheel)
for n in ["models/clip/modeling_clip.py", "models/clip/configuration_clip.py", "activations.py",
          "modeling_attn_mask_utils.py", "modeling_outputs.py"]:
    p = os.path.join(out, "transformers", n)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    with open(p, "wb") as f:
        f.write(z.read("transformers/" + n))
init = z.read("transformers/__init__.py").decode()
version = re.search(r'^__version__ = "([^"]+)"', init, re.M).group(1)
with open(os.path.join(out, "transformers", "__init__.py"), "w") as f:
    f.write('__version__ = "%s"\n' % version)
with open(os.path.join(out, "transformers", "SOURCE"), "w") as f:
    f.write("%s sha256=%s\n" % (os.path.basename(wheel), hashlib.sha256(open(wheel, "rb").read()).hexdigest()))
PY
T="$OUT/transformers"
mkdir -p "$T/utils" "$T/integrations" "$T/onnx"
: > "$T/models/__init__.py"; : > "$T/models/clip/__init__.py"; : > "$T/integrations/__init__.py"

cat > "$T/configuration_utils.py" <<'PY'
# Stub of PretrainedConfig: keyword arguments become attributes, plus the few defaults the CLIP text path reads.
class PretrainedConfig:
    model_type = ""
    def __init__(self, pad_token_id=None, bos_token_id=None, eos_token_id=None, output_hidden_states=False,
                 output_attentions=False, return_dict=True, attn_implementation="eager", **kwargs):
        self.pad_token_id = pad_token_id
        self.bos_token_id = bos_token_id
        self.eos_token_id = eos_token_id
        self.output_hidden_states = output_hidden_states
        self.output_attentions = output_attentions
        self.return_dict = return_dict
        self._attn_implementation = attn_implementation
        for k, v in kwargs.items():
            setattr(self, k, v)
    @property
    def use_return_dict(self):
        return self.return_dict
PY
cat > "$T/modeling_utils.py" <<'PY'
# Stub of PreTrainedModel: a thin nn.Module holding `config`; no hub I/O. post_init runs the model's _init_weights.
import torch
ALL_ATTENTION_FUNCTIONS = {}  # only "eager" is used, which modeling_clip never looks up here
class PreTrainedModel(torch.nn.Module):
    def __init__(self, config, *inputs, **kwargs):
        super().__init__()
        self.config = config
    def post_init(self):
        self.apply(self._init_weights)
PY
cat > "$T/modeling_layers.py" <<'PY'
# Stub: the real GradientCheckpointingLayer only adds activation checkpointing while training.
import torch
class GradientCheckpointingLayer(torch.nn.Module):
    gradient_checkpointing = False
PY
cat > "$T/cache_utils.py" <<'PY'
class Cache: pass
class EncoderDecoderCache(Cache): pass
PY
cat > "$T/onnx/__init__.py" <<'PY'
class OnnxConfig: pass
PY
cat > "$T/integrations/hub_kernels.py" <<'PY'
def use_kernel_forward_from_hub(*a, **k):
    return lambda cls: cls
PY
cat > "$T/utils/__init__.py" <<'PY'
# Stub of transformers.utils: the decorators are identities (docstrings, return-type plumbing), ModelOutput an
# OrderedDict dataclass base like the real one.
from collections import OrderedDict
from . import logging
class ModelOutput(OrderedDict):
    def __post_init__(self):
        from dataclasses import fields
        for f in fields(self):
            v = getattr(self, f.name)
            if v is not None:
                self[f.name] = v
    def to_tuple(self):
        return tuple(self[k] for k in self.keys())
def auto_docstring(obj=None, **kwargs):
    return (lambda o: o) if obj is None else obj
def can_return_tuple(fn):
    return fn
def filter_out_non_signature_kwargs(*a, **k):
    return lambda fn: fn
def torch_int(x):
    return int(x)
PY
cat > "$T/utils/logging.py" <<'PY'
import logging as _logging
def get_logger(name=None):
    return _logging.getLogger(name)
PY
cat > "$T/utils/import_utils.py" <<'PY'
def is_torchdynamo_compiling():
    return False
PY
