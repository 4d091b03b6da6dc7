#!/bin/sh
# Builds a minimal importable "diffusers" package holding diffusers' real UNet2DConditionModel sources (the UNet, its
# blocks, resnets, attention, embeddings, activations, normalization, Transformer2DModel, down/upsampling) so that
# gen_unet.py runs with nothing but torch (Debian's 1.13.1) and numpy installed.  Only non-numerical infrastructure
# is stubbed (config registration, ModelMixin, loader mixins, hub/import utilities); no numerical source is edited.
# usage: make_shim.sh DIFFUSERS_GIT_DIR SHIM_DIR [REV]      (REV defaults to HEAD)
set -e
SRC=$1; OUT=$2; REV=${3:-HEAD}
rm -rf "$OUT/diffusers"
mkdir -p "$OUT/diffusers/utils" "$OUT/diffusers/loaders" "$OUT/diffusers/models/unets" "$OUT/diffusers/models/transformers"
for p in diffusers diffusers/models diffusers/models/unets diffusers/models/transformers; do : > "$OUT/$p/__init__.py"; done
git --git-dir="$SRC" rev-parse "$REV" > "$OUT/diffusers/REVISION"
git --git-dir="$SRC" show "$REV:src/diffusers/__init__.py" | grep '^__version__ = ' > "$OUT/diffusers/__init__.py"
for f in unets/unet_2d_condition unets/unet_2d_blocks attention attention_processor embeddings resnet activations \
         normalization downsampling upsampling modeling_outputs transformers/transformer_2d \
         transformers/dual_transformer_2d; do
  git --git-dir="$SRC" show "$REV:src/diffusers/models/$f.py" > "$OUT/diffusers/models/$f.py"
done

cat > "$OUT/diffusers/configuration_utils.py" <<'PY'
# Stub: records the constructor arguments as `config` (what diffusers' ConfigMixin does, minus hub I/O).
import functools, inspect
class Config(dict):
    def __getattr__(self, k):
        try:
            return self[k]
        except KeyError:
            raise AttributeError(k)
class ConfigMixin:
    config_name = "config.json"
    def register_to_config(self, **kw):
        if '_internal_dict' not in self.__dict__:
            self.__dict__['_internal_dict'] = Config()
        self.__dict__['_internal_dict'].update(kw)
    @property
    def config(self):
        return self.__dict__['_internal_dict']
class LegacyConfigMixin(ConfigMixin):
    pass
def register_to_config(init):
    sig = inspect.signature(init)
    @functools.wraps(init)
    def inner(self, *args, **kwargs):
        bound = sig.bind(self, *args, **kwargs)
        bound.apply_defaults()
        kw = {k: v for k, v in bound.arguments.items() if k != 'self'}
        kw.update(kw.pop('kwargs', {}) or {})
        ConfigMixin.register_to_config(self, **kw)   # recorded before the body runs, as in diffusers
        init(self, *args, **kwargs)
    return inner
PY

cat > "$OUT/diffusers/models/modeling_utils.py" <<'PY'
# Stub: ModelMixin without hub loading/saving; a thin nn.Module.
import torch
class ModelMixin(torch.nn.Module):
    _supports_gradient_checkpointing = False
    _no_split_modules = None
    _skip_layerwise_casting_patterns = None
    def __init__(self):
        super().__init__()
        self.gradient_checkpointing = False
    @property
    def dtype(self):
        return next(self.parameters()).dtype
    @property
    def device(self):
        return next(self.parameters()).device
class LegacyModelMixin(ModelMixin):
    pass
PY
cat > "$OUT/diffusers/models/_modeling_parallel.py" <<'PY'
def gather_size_by_comm(*a, **k):
    raise NotImplementedError
PY

cat > "$OUT/diffusers/loaders/__init__.py" <<'PY'
# Stub: LoRA / PEFT / IP-adapter loading is not used.
class PeftAdapterMixin: pass
class UNet2DConditionLoadersMixin: pass
PY
cat > "$OUT/diffusers/loaders/single_file_model.py" <<'PY'
class FromOriginalModelMixin: pass
PY
cat > "$OUT/diffusers/image_processor.py" <<'PY'
class IPAdapterMaskProcessor: pass
PY

cat > "$OUT/diffusers/utils/__init__.py" <<'PY'
# Stub of diffusers.utils: real stdlib logging; everything optional reports "not available".
import functools
import logging as _logging
from collections import OrderedDict
from . import logging
from .import_utils import *  # noqa
class BaseOutput(OrderedDict):
    # the real one is an OrderedDict dataclass base too; gen_unet.py calls forward(return_dict=False)
    def __post_init__(self):
        from dataclasses import fields
        for f in fields(self):
            v = getattr(self, f.name)
            if v is not None:
                self[f.name] = v
    def to_tuple(self):
        return tuple(self[k] for k in self.keys())
def deprecate(*args, take_from=None, standard_warn=True, stacklevel=2):
    # like the real one minus the warnings: pops and returns the deprecated kwargs found in take_from
    values = ()
    for attribute, version_name, message in (a for a in args if isinstance(a, tuple)):
        if isinstance(take_from, dict) and attribute in take_from:
            values += (take_from.pop(attribute),)
    if len(values) == 0:
        return
    return values[0] if len(values) == 1 else values
def apply_lora_scale(kwargs_name="joint_attention_kwargs"):
    # the real decorator only scales LoRA layers (none here) by cross_attention_kwargs["scale"] (not passed)
    def deco(fn):
        return fn
    return deco
USE_PEFT_BACKEND = False
def __getattr__(name):
    if name.startswith("is_") and name.endswith("_available"):
        return lambda *a, **k: False
    raise AttributeError(name)
PY
cat > "$OUT/diffusers/utils/logging.py" <<'PY'
import logging as _logging
def get_logger(name=None):
    return _logging.getLogger(name)
PY
cat > "$OUT/diffusers/utils/import_utils.py" <<'PY'
import operator as _op
import torch as _torch
_OPS = {"<": _op.lt, "<=": _op.le, ">": _op.gt, ">=": _op.ge, "==": _op.eq, "!=": _op.ne}
def _v(s):
    return tuple(int(''.join(ch for ch in p if ch.isdigit()) or 0) for p in s.split('+')[0].split('.')[:3])
def is_torch_version(operation, version):
    return _OPS[operation](_v(_torch.__version__), _v(version))
def is_torch_available():
    return True
def is_torch_npu_available(): return False
def is_torch_xla_available(): return False
def is_torch_xla_version(*a): return False
def is_xformers_available(): return False
def is_torch_mlu_available(): return False
def is_torch_neuronx_available(): return False
def is_transformers_available(): return False
def is_peft_available(): return False
def is_accelerate_available(): return False
PY
cat > "$OUT/diffusers/utils/torch_utils.py" <<'PY'
# Stub of the helpers the UNet sources import; none changes numbers on CPU.
import functools
import torch
from .import_utils import is_torch_version  # noqa
def maybe_allow_in_graph(cls):
    return cls
def maybe_adjust_dtype_for_device(dtype, device):
    return dtype  # real one downcasts float64 only on devices without it (mps, ...); CPU keeps it
def lru_cache_unless_export(*a, **k):
    return functools.lru_cache(*a, **k)
def apply_freeu(*a, **k):
    raise NotImplementedError("FreeU is not used")
def randn_tensor(shape, generator=None, device=None, dtype=None, layout=None):
    return torch.randn(shape, generator=generator, dtype=dtype)
def is_compiled_module(module):
    return False
PY
cat > "$OUT/diffusers/utils/constants.py" <<'PY'
DIFFUSERS_ATTN_BACKEND = "native"
DIFFUSERS_ATTN_CHECKS = False
PY
