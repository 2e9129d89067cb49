# DialogueGCN (Ghosal et al., EMNLP 2019) with VEGA's head (label space + anchor space,
# DualBranchHead, as in ../vega/) on the embedded synthetic conversations (6 classes,
# 2 speakers, text/audio/visual 100/60/40).
# DialogueGCN gives only fused features (it concatenates the modalities at its input):
# the label head and the anchor head run on the fused branch alone (the modality
# branches get weight 0 and there is no distillation between branches).
# Same data, optimiser, schedule and model selection as ../vega/vega_synthetic.py (the
# benchmark protocol: AdamW, lr 1e-3, <= 40 epochs, early stopping on validation weighted F1).
_base_ = ['../vega/vega_synthetic.py']

model = dict(
    backbone=dict(
        _delete_=True, type='DialogueGCNBackbone', input_dims=dict(text=100, audio=60, visual=40),
        hidden_dim=100, context_dim=100, num_speakers=2, max_len=110,
        window_past=10, window_future=10, num_bases=30, nodal_attention=True,
        dropout=0.4),
    head=dict(
        label_head=dict(loss=dict(
            kd_loss_weight=0.0, branch_weights=dict(text=0.0, audio=0.0, visual=0.0))),
        vega_head=dict(loss=dict(
            kd_loss_weight=0.0, branch_weights=dict(text=0.0, audio=0.0, visual=0.0)))))
