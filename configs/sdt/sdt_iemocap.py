# SDT on IEMOCAP: configs/vega/vega_iemocap.py without the VEGA anchor branch (the ablation).
_base_ = ['../vega/vega_iemocap.py']

model = dict(head=dict(vega_head=None))
