# GraphSmile (Li et al., TPAMI 2025) on MELD text only, MiniLM features from
# tools/extract_features.py (see ../vega/vega_meld_text.py for the file and the split).
# Architecture: the published MELD settings; with one modality GraphSmile's cross-modal
# graph becomes one graph over the text nodes with the same window (an extension: the
# published model needs two modalities, docs/model_zoo.md).
# Same data, class weights, optimiser, schedule and model selection as
# ../vega/vega_meld_text.py (the benchmark protocol: AdamW, lr 3e-4, <= 30 epochs, early
# stopping on validation weighted F1).
# The loss: the emotion cross-entropy of the fused branch plus the sentiment and
# sentiment-shift losses of GraphSmileHead.
_base_ = ['../vega/vega_meld_text.py']

model = dict(
    backbone=dict(
        _delete_=True, type='GraphSmileBackbone', input_dims=dict(text=384),
        hidden_dim=384, window_past=3, window_future=3, num_layers=5, dropout=0.2,
        text_norm=True, num_speakers=9),
    head=dict(
        type='GraphSmileHead', vega_head=None,
        label_head=dict(
            type='LinearLabelHead', dropout=0.0,
            loss=dict(loss_weight=1.0, kd_loss_weight=0.0,
                      branch_weights=dict(fused=1.0, text=0.0, audio=0.0, visual=0.0))),
        # the sentiment-dynamics branch on MELD's own sentiments, as published: the
        # feature file keeps the tables' Sentiment column (tools/extract_features.py);
        # a file without it is refused before training (re-extract it, or set
        # source='derive', emotion_to_sentiment=[1, -1, 0, 0, 2, 0, 0] as in
        # ./graphsmile_meld.py)
        sentiment=dict(source='samples', shift_window=3, loss_weights=(0.5, 0.2))))
