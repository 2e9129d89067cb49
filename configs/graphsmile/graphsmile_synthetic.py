# GraphSmile (Li et al., TPAMI 2025) on the embedded synthetic conversations (6 classes, 2 speakers,
# text/audio/visual 100/60/40).
# Architecture: the published IEMOCAP settings (docs/model_zoo.md).
# Same data, optimiser, schedule and model selection as ../vega/vega_synthetic.py (the
# benchmark protocol: AdamW, lr 1e-3, <= 40 epochs, early stopping on validation weighted F1).
# The loss: the emotion cross-entropy of the fused branch plus the sentiment and
# sentiment-shift losses of GraphSmileHead.
_base_ = ['../vega/vega_synthetic.py']

model = dict(
    backbone=dict(
        _delete_=True, type='GraphSmileBackbone', input_dims=dict(text=100, audio=60, visual=40),
        hidden_dim=512, window_past=17, window_future=17, num_layers=7, dropout=0.2,
        text_norm=True, num_speakers=2),
    head=dict(
        type='GraphSmileHead', vega_head=None,
        label_head=dict(
            type='LinearLabelHead', dropout=0.0,
            loss=dict(loss_weight=1.0, kd_loss_weight=0.0,
                      branch_weights=dict(fused=1.0, text=0.0, audio=0.0, visual=0.0))),
        # the sentiment-dynamics branch; sentiments derived from the (IEMOCAP-named)
        # classes as for IEMOCAP
        sentiment=dict(source='derive', emotion_to_sentiment=[2, 0, 1, 0, 2, 0],
                       shift_window=19, loss_weights=(1.0, 0.7))))
