# SDT on the embedded synthetic conversations: configs/vega/vega_synthetic.py without
# the VEGA anchor branch (the ablation, on data that needs no files).
_base_ = ['../vega/vega_synthetic.py']

model = dict(head=dict(vega_head=None))
