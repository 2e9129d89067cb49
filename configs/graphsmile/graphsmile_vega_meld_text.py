# GraphSmile (Li et al., TPAMI 2025) with VEGA's head (label space + anchor space,
# GraphSmileHead: DualBranchHead as in ../vega/vega_meld_text.py plus GraphSmile's
# sentiment-dynamics losses) on the data of ./graphsmile_meld_text.py, with its backbone and
# training recipe; only the head differs.
# GraphSmile gives per-modality features (each modality's share of the fused mean):
# every branch gets its label and anchor head and the fused branch distils into the
# modalities, as in VEGA, with VEGA's loss weights.
_base_ = ['../vega/vega_meld_text.py']

model = dict(
    backbone=dict(
        _delete_=True, type='GraphSmileBackbone', input_dims=dict(text=384),
        hidden_dim=384, window_past=3, window_future=3, num_layers=5, dropout=0.2,
        text_norm=True, num_speakers=9),
    head=dict(
        type='GraphSmileHead',
        # the sentiment-dynamics branch on MELD's own sentiments, as published: the
        # feature file keeps the tables' Sentiment column (tools/extract_features.py);
        # a file without it is refused before training (re-extract it, or set
        # source='derive', emotion_to_sentiment=[1, -1, 0, 0, 2, 0, 0] as in
        # ./graphsmile_meld.py)
        sentiment=dict(source='samples', shift_window=3, loss_weights=(0.5, 0.2))))
