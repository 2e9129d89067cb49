# MMGCN (Hu et al., ACL 2021) with VEGA's head (label space + anchor space,
# DualBranchHead, as in ../vega/) on the embedded synthetic conversations (6 classes,
# 2 speakers, text/audio/visual 100/60/40).
# MMGCN gives per-modality features (each modality's graph nodes): every branch gets
# its label and anchor head and the fused branch distils into the modalities, as in
# VEGA, with VEGA's loss weights.
# Same data, optimiser, schedule and model selection as ../vega/vega_synthetic.py (the
# benchmark protocol: AdamW, lr 1e-3, <= 40 epochs, early stopping on validation weighted F1).
_base_ = ['../vega/vega_synthetic.py']

model = dict(
    backbone=dict(
        _delete_=True, type='MMGCNBackbone', input_dims=dict(text=100, audio=60, visual=40),
        context_dim=100, graph_hidden=100, text_proj_dim=200, num_layers=64,
        alpha=0.1, lamda=0.5, dropout=0.4, use_speaker=True, num_speakers=2),
    head=dict())
