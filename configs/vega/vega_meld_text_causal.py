# Live (causal) text-only VEGA on MELD: configs/vega/vega_meld_text.py with a causal
# backbone. Each utterance attends only to itself and earlier utterances, in every self-
# and cross-modal transformer, so an utterance can be labelled as soon as it is said
# (ConversationInferencer.stream()) and later utterances never change its label.
# Not in the paper; docs/inference.md describes the live mode.
_base_ = ['./vega_meld_text.py']

model = dict(backbone=dict(causal=True))
