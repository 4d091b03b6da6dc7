"""Writes scheduler trace goldens in the fixture format (see the fixtures README, "schedulers") by running
diffusers' scheduler sources with the closed-form fake model eps = 0.3*model_input + 0.05*(t/1000).

usage: SHIM_DIR=/tmp/dfs [SHAPE=1,4,4,4] [FMA_LINSPACE=1] [NEP50=1] python3 gen.py SPEC.json OUT_DIR
  SPEC.json: {run_name: {"class": ..., "steps": N, "config_extra": {...}, "step_kwargs": {...}}}
  SHIM_DIR: made by make_shim.sh (diffusers' scheduler files under a minimal package)
  FMA_LINSPACE: make an old torch's float32 linspace match torch 2.x (fused multiply-add per element)
  NEP50: numpy 1.2x with numpy 2's scalar promotion (diffusers' _sigma_to_t depends on it)
"""
import sys, json, struct, os, importlib
sys.path.insert(0, os.environ.get('SHIM_DIR', '/tmp/dfs'))
import numpy as np, torch
if os.environ.get("NEP50"): np._set_promotion_state("weak")
if os.environ.get("FMA_LINSPACE"): sys.path.insert(0, os.path.dirname(os.path.abspath(__file__))); import patch_linspace

CLASSES = {
 'LMSDiscreteScheduler': 'scheduling_lms_discrete', 'EulerDiscreteScheduler': 'scheduling_euler_discrete',
 'EulerAncestralDiscreteScheduler': 'scheduling_euler_ancestral_discrete', 'DDIMScheduler': 'scheduling_ddim',
 'PNDMScheduler': 'scheduling_pndm', 'DPMSolverMultistepScheduler': 'scheduling_dpmsolver_multistep',
 'UniPCMultistepScheduler': 'scheduling_unipc_multistep', 'HeunDiscreteScheduler': 'scheduling_heun_discrete',
 'DDPMScheduler': 'scheduling_ddpm', 'KDPM2DiscreteScheduler': 'scheduling_k_dpm_2_discrete',
 'KDPM2AncestralDiscreteScheduler': 'scheduling_k_dpm_2_ancestral_discrete',
 'DEISMultistepScheduler': 'scheduling_deis_multistep', 'DPMSolverSinglestepScheduler': 'scheduling_dpmsolver_singlestep'}
BASE = {"beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085, "clip_sample": False,
        "num_train_timesteps": 1000, "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None}

def cls_of(name):
    return getattr(importlib.import_module('diffusers.schedulers.' + CLASSES[name]), name)

def write_st(path, tensors):
    header = {}; off = 0; blobs = []
    for k, v in tensors.items():
        b = v.detach().to(torch.float64).contiguous().numpy().astype('<f8').tobytes()
        header[k] = {"dtype": "F64", "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        off += len(b); blobs.append(b)
    h = json.dumps(header).encode()
    h += b' ' * ((8 - len(h) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h))); f.write(h)
        for b in blobs: f.write(b)

def run(cls_name, extra, steps, step_kwargs=None):
    C = cls_of(cls_name)
    import inspect
    keys = set(inspect.signature(C.__init__).parameters)
    cfg = {k: v for k, v in {**BASE, **extra}.items() if k in keys}
    s = C(**cfg)
    s.set_timesteps(steps)
    out = {'timesteps': s.timesteps.clone().to(torch.float64)}
    if hasattr(s, 'sigmas') and s.sigmas is not None and not isinstance(s, tuple(cls_of(c) for c in ['DDIMScheduler','DDPMScheduler','PNDMScheduler'])):
        out['sigmas'] = torch.as_tensor(s.sigmas).to(torch.float64)
    ins = float(s.init_noise_sigma)
    g7 = torch.Generator('cpu').manual_seed(7)
    x = torch.randn(tuple(int(v) for v in os.environ.get("SHAPE", "1,4,8,8").split(",")), generator=g7, dtype=torch.float64) * s.init_noise_sigma
    out['x_init'] = x.clone()
    g11 = torch.Generator('cpu').manual_seed(11)
    sig = inspect.signature(s.step).parameters
    for i, t in enumerate(s.timesteps):
        mi = s.scale_model_input(x, t)
        eps = 0.3 * mi + 0.05 * (t / 1000)
        kw = dict(step_kwargs or {})
        if 'generator' in sig: kw['generator'] = g11
        x = s.step(eps, t, x, **kw).prev_sample
        out['step%03d.model_input' % i] = mi.clone()
        out['step%03d.prev_sample' % i] = x.clone()
    out['x_final'] = x.clone()
    return out, ins, len(s.timesteps)

if __name__ == '__main__':
    spec = json.load(open(sys.argv[1]))
    outdir = sys.argv[2]
    os.makedirs(outdir, exist_ok=True)
    summary = {"fake_model": "eps = 0.3*model_input + 0.05*(t/1000)", "base_config": BASE, "runs": {}}
    for name, r in spec.items():
        try:
            out, ins, calls = run(r['class'], r.get('config_extra', {}), r['steps'], r.get('step_kwargs'))
        except Exception as e:
            print('SKIP', name, type(e).__name__, e); continue
        write_st(os.path.join(outdir, name + '.safetensors'), out)
        summary['runs'][name] = {"class": r['class'], "config_extra": r.get('config_extra', {}), "init_noise_sigma": ins,
                                 "timesteps": out['timesteps'][:8].tolist(), "n_model_calls": calls}
        if r.get('step_kwargs'):
            summary['runs'][name]['step_kwargs'] = r['step_kwargs']
        print('ok', name, calls)
    json.dump(summary, open(os.path.join(outdir, 'summary.json'), 'w'), indent=1)
