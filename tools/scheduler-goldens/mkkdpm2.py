"""Spec of the KDPM2 (dpm2) and KDPM2 ancestral (dpm2_ancestral) runs of parity-extra/schedulers.
usage: python3 mkkdpm2.py OUT.json   (then gen.py OUT.json DIR, and merge DIR/summary.json's runs into the committed one)"""
import json, sys
V = {}
def add(name, cls, steps, extra=None):
    V[f'{name}_{steps}'] = {'class': cls, 'steps': steps, 'config_extra': extra or {}}
K, KA = 'KDPM2DiscreteScheduler', 'KDPM2AncestralDiscreteScheduler'
for p, c in (('dpm2', K), ('dpm2a', KA)):
    add(p, c, 10); add(p, c, 25); add(p, c, 1)
    add(p + '_karras', c, 10, {'use_karras_sigmas': True})
    add(p + '_v', c, 10, {'prediction_type': 'v_prediction'})
    add(p + '_trailing', c, 10, {'timestep_spacing': 'trailing'})
    add(p + '_leading', c, 8, {'timestep_spacing': 'leading'})
    add(p + '_exp', c, 8, {'use_exponential_sigmas': True})
    add(p + '_beta', c, 8, {'use_beta_sigmas': True})
    if c == K:  # the ancestral class's float32 sigma_down is NaN at the cosine schedule's first step (0 - tiny < 0)
        add(p + '_cos', c, 8, {'beta_schedule': 'squaredcos_cap_v2'})
    add(p + '_linear', c, 8, {'beta_schedule': 'linear', 'beta_start': 0.0001, 'beta_end': 0.02})
    add(p + '_karras_v', c, 7, {'use_karras_sigmas': True, 'prediction_type': 'v_prediction', 'timestep_spacing': 'trailing'})
json.dump(V, open(sys.argv[1], 'w'), indent=1)
print(len(V))
