# M3Net (Chen et al., CVPR 2023) on MELD text only, MiniLM features from
# tools/extract_features.py (see ../vega/vega_meld_text.py for the file and the split).
# Architecture: the published MELD settings (D_g 1024, graph_h 512, num_L 3, num_K 3,
# dropout 0.4) with the text projected to D_g (384-d MiniLM, not 1024-d RoBERTa).
# Same data, class weights, optimiser, schedule and model selection as
# ../vega/vega_meld_text.py (the benchmark protocol: AdamW, lr 3e-4, <= 30 epochs, early
# stopping on validation weighted F1).
# The loss is the cross-entropy of the fused branch alone.
_base_ = ['../vega/vega_meld_text.py']

model = dict(
    backbone=dict(
        _delete_=True, type='M3NetBackbone', input_dims=dict(text=384),
        node_dim=1024, graph_hidden=512, num_hyper_layers=3, num_gated_layers=3,
        dropout=0.4, text_proj=True, text_norm=True, use_speaker=True, num_speakers=9),
    head=dict(
        vega_head=None,
        label_head=dict(
            type='LinearLabelHead', dropout=0.4,
            loss=dict(loss_weight=1.0, kd_loss_weight=0.0,
                      branch_weights=dict(fused=1.0, text=0.0, audio=0.0, visual=0.0)))))
