# GraphSmile (Li et al., TPAMI 2025) with VEGA's head (label space + anchor space,
# GraphSmileHead: DualBranchHead as in ../vega/vega_synthetic.py plus GraphSmile's
# sentiment-dynamics losses) on the data of ./graphsmile_synthetic.py, with its backbone and
# training recipe; only the head differs.
# GraphSmile gives per-modality features (each modality's share of the fused mean):
# every branch gets its label and anchor head and the fused branch distils into the
# modalities, as in VEGA, with VEGA's loss weights.
_base_ = ['../vega/vega_synthetic.py']

model = dict(
    backbone=dict(
        _delete_=True, type='GraphSmileBackbone', input_dims=dict(text=100, audio=60, visual=40),
        hidden_dim=512, window_past=17, window_future=17, num_layers=7, dropout=0.2,
        text_norm=True, num_speakers=2),
    head=dict(
        type='GraphSmileHead',
        # the sentiment-dynamics branch; sentiments derived from the (IEMOCAP-named)
        # classes as for IEMOCAP
        sentiment=dict(source='derive', emotion_to_sentiment=[2, 0, 1, 0, 2, 0],
                       shift_window=19, loss_weights=(1.0, 0.7))))
