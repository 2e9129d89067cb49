# DialogueGCN (Ghosal et al., EMNLP 2019) with VEGA's head (label space + anchor space,
# DualBranchHead, as in ../vega/) on MELD text only, MiniLM features from
# tools/extract_features.py (see ../vega/vega_meld_text.py for the file and the split).
# DialogueGCN gives only fused features (it concatenates the modalities at its input):
# the label head and the anchor head run on the fused branch alone (the modality
# branches get weight 0 and there is no distillation between branches).
# Same data, class weights, optimiser, schedule and model selection as
# ../vega/vega_meld_text.py (the benchmark protocol: AdamW, lr 3e-4, <= 30 epochs, early
# stopping on validation weighted F1).
_base_ = ['../vega/vega_meld_text.py']

model = dict(
    backbone=dict(
        _delete_=True, type='DialogueGCNBackbone', input_dims=dict(text=384),
        hidden_dim=100, context_dim=100, num_speakers=9, max_len=110,
        window_past=10, window_future=10, num_bases=30, nodal_attention=True,
        dropout=0.4),
    head=dict(
        label_head=dict(loss=dict(
            kd_loss_weight=0.0, branch_weights=dict(text=0.0, audio=0.0, visual=0.0))),
        vega_head=dict(loss=dict(
            kd_loss_weight=0.0, branch_weights=dict(text=0.0, audio=0.0, visual=0.0)))))
