#!/bin/sh
# Builds a minimal importable "diffusers" package holding only the scheduler sources, so gen.py runs with nothing
# but torch, numpy and scipy installed.  usage: make_shim.sh DIFFUSERS_GIT_DIR SHIM_DIR
set -e
SRC=$1; OUT=$2
mkdir -p "$OUT/diffusers/schedulers" "$OUT/diffusers/utils"
: > "$OUT/diffusers/__init__.py"; : > "$OUT/diffusers/schedulers/__init__.py"
cat > "$OUT/diffusers/configuration_utils.py" <<'PY'
import functools, inspect
class Config(dict):
    def __getattr__(self, k):
        try:
            return self[k]
        except KeyError:
            raise AttributeError(k)
class ConfigMixin:
    def register_to_config(self, **kw):
        if not hasattr(self, '_internal_config'):
            self._internal_config = Config()
        self._internal_config.update(kw)
    @property
    def config(self):
        return self._internal_config
def register_to_config(init):
    sig = inspect.signature(init)
    @functools.wraps(init)
    def inner(self, *args, **kwargs):
        bound = sig.bind(self, *args, **kwargs)
        bound.apply_defaults()
        ConfigMixin.register_to_config(self, **{k: v for k, v in bound.arguments.items() if k != 'self'})
        init(self, *args, **kwargs)
    return inner
PY
cat > "$OUT/diffusers/utils/__init__.py" <<'PY'
import logging as _logging
class BaseOutput:
    pass
def is_scipy_available():
    return True
def deprecate(*a, **k):
    pass
class logging:
    @staticmethod
    def get_logger(name):
        return _logging.getLogger(name)
PY
cat > "$OUT/diffusers/utils/torch_utils.py" <<'PY'
import torch
def randn_tensor(shape, generator=None, device=None, dtype=None, layout=None):
    return torch.randn(shape, generator=generator, dtype=dtype)
PY
cat > "$OUT/diffusers/schedulers/scheduling_utils.py" <<'PY'
from dataclasses import dataclass
from enum import Enum
import torch
from ..utils import BaseOutput
class KarrasDiffusionSchedulers(Enum):
    DDIMScheduler = 1
@dataclass
class SchedulerOutput(BaseOutput):
    prev_sample: torch.Tensor
class SchedulerMixin:
    pass
PY
for f in ddim ddpm pndm euler_discrete euler_ancestral_discrete heun_discrete dpmsolver_multistep unipc_multistep lms_discrete \
    k_dpm_2_discrete k_dpm_2_ancestral_discrete deis_multistep dpmsolver_singlestep; do
  git --git-dir="$SRC" show HEAD:src/diffusers/schedulers/scheduling_$f.py > "$OUT/diffusers/schedulers/scheduling_$f.py"
done
