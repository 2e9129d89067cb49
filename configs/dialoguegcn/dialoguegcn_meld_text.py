# DialogueGCN (Ghosal et al., EMNLP 2019) with its published classifier (dropout, linear:
# LinearLabelHead) on MELD text only, MiniLM features from tools/extract_features.py (see
# ../vega/vega_meld_text.py for the file and the split).
# Architecture: the published defaults (docs/model_zoo.md).
# Same data, class weights, optimiser, schedule and model selection as
# ../vega/vega_meld_text.py (the benchmark protocol: AdamW, lr 3e-4, <= 30 epochs, early
# stopping on validation weighted F1).
# The loss is the class-weighted cross-entropy of the fused branch alone.
_base_ = ['../vega/vega_meld_text.py']

model = dict(
    backbone=dict(
        _delete_=True, type='DialogueGCNBackbone', input_dims=dict(text=384),
        hidden_dim=100, context_dim=100, num_speakers=9, max_len=110,
        window_past=10, window_future=10, num_bases=30, nodal_attention=True,
        dropout=0.4),
    head=dict(
        vega_head=None,
        label_head=dict(
            type='LinearLabelHead', dropout=0.4,
            loss=dict(loss_weight=1.0, kd_loss_weight=0.0,
                      branch_weights=dict(fused=1.0, text=0.0, audio=0.0, visual=0.0)))))
