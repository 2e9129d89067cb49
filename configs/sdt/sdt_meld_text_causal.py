# Live (causal) text-only SDT on MELD: configs/sdt/sdt_meld_text.py with a causal
# backbone (each utterance attends only to itself and earlier ones; see
# configs/vega/vega_meld_text_causal.py).
_base_ = ['./sdt_meld_text.py']

model = dict(backbone=dict(causal=True))
