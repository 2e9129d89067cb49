# Context-free MLP baseline: each utterance's features on their own (per-modality projection,
# concatenation, MLP), no dialogue context and no speakers.
# Same data, head, optimiser, schedule and model selection as ../vega/vega_meld_text.py
# (the benchmark protocol); only the backbone differs and the anchor branch is off.
# The loss is the class-weighted cross-entropy of the fused branch alone: the per-modality
# branches and the distillation get weight 0 (their F1 in results.json is untrained).
_base_ = ['../vega/vega_meld_text.py']

model = dict(
    backbone=dict(
        _delete_=True, type='UtteranceMLPBackbone', input_dims=dict(text=384),
        hidden_dim=128, dropout=0.53, num_speakers=9),
    head=dict(
        vega_head=None,
        label_head=dict(loss=dict(
            loss_weight=1.0, kd_loss_weight=0.0,
            branch_weights=dict(fused=1.0, text=0.0, audio=0.0, visual=0.0)))))
