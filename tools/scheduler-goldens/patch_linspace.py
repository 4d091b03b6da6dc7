import torch, numpy as np
from fractions import Fraction as Fr
_orig = torch.linspace
def fma_linspace(start, end, steps, dtype=None, **kw):
    if dtype not in (None, torch.float32) or kw.get('device') not in (None, 'cpu'):
        return _orig(start, end, steps, dtype=dtype, **kw)
    f32 = np.float32
    a = f32(float(start)); b = f32(float(end)); n = int(steps)
    if n == 1:
        return torch.tensor([a], dtype=torch.float32)
    step = f32((b - a) / f32(n - 1)); half = n // 2
    out = np.empty(n, f32)
    for i in range(n):
        if i < half: out[i] = f32(float(Fr(float(step)) * i + Fr(float(a))))
        else: out[i] = f32(float(-Fr(float(step)) * (n - i - 1) + Fr(float(b))))
    return torch.from_numpy(out)
torch.linspace = fma_linspace
