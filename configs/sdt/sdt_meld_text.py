# Text-only SDT on MELD from our MiniLM features: configs/vega/vega_meld_text.py without
# the VEGA anchor branch (the ablation; see there for the data and every setting).
_base_ = ['../vega/vega_meld_text.py']

model = dict(head=dict(vega_head=None))
