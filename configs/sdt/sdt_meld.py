# SDT on MELD: configs/vega/vega_meld.py without the VEGA anchor branch (the ablation).
_base_ = ['../vega/vega_meld.py']

model = dict(head=dict(vega_head=None))
