# MMGCN (Hu et al., ACL 2021) with VEGA's head (label space + anchor space,
# DualBranchHead, as in ../vega/) on MELD text only, MiniLM features from
# tools/extract_features.py (see ../vega/vega_meld_text.py for the file and the split).
# MMGCN gives per-modality features (each modality's graph nodes): every branch gets
# its label and anchor head and the fused branch distils into the modalities, as in
# VEGA, with VEGA's loss weights.
# Same data, class weights, optimiser, schedule and model selection as
# ../vega/vega_meld_text.py (the benchmark protocol: AdamW, lr 3e-4, <= 30 epochs, early
# stopping on validation weighted F1).
_base_ = ['../vega/vega_meld_text.py']

model = dict(
    backbone=dict(
        _delete_=True, type='MMGCNBackbone', input_dims=dict(text=384),
        context_dim=100, graph_hidden=100, text_proj_dim=200, num_layers=64,
        alpha=0.1, lamda=0.5, dropout=0.4, use_speaker=True, num_speakers=9),
    head=dict())
