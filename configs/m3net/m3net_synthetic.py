# M3Net (Chen et al., CVPR 2023) on the embedded synthetic conversations (6 classes, 2 speakers,
# text/audio/visual 100/60/40).
# Architecture: the published IEMOCAP settings (docs/model_zoo.md).
# Same data, optimiser, schedule and model selection as ../vega/vega_synthetic.py (the
# benchmark protocol: AdamW, lr 1e-3, <= 40 epochs, early stopping on validation weighted F1).
# The loss is the cross-entropy of the fused branch alone.
_base_ = ['../vega/vega_synthetic.py']

model = dict(
    backbone=dict(
        _delete_=True, type='M3NetBackbone', input_dims=dict(text=100, audio=60, visual=40),
        node_dim=512, graph_hidden=512, num_hyper_layers=3, num_gated_layers=4,
        dropout=0.5, text_proj=True, text_norm=True, use_speaker=True, num_speakers=2),
    head=dict(
        vega_head=None,
        label_head=dict(
            type='LinearLabelHead', dropout=0.5,
            loss=dict(loss_weight=1.0, kd_loss_weight=0.0,
                      branch_weights=dict(fused=1.0, text=0.0, audio=0.0, visual=0.0)))))
