# M3Net (Chen et al., CVPR 2023) with VEGA's head (label space + anchor space,
# DualBranchHead as in ../vega/vega_synthetic.py) on the data of ./m3net_synthetic.py, with its
# backbone and training recipe; only the head differs.
# M3Net gives per-modality features (each modality's graph nodes): every branch gets
# its label and anchor head and the fused branch distils into the modalities, as in
# VEGA, with VEGA's loss weights.
_base_ = ['../vega/vega_synthetic.py']

model = dict(
    backbone=dict(
        _delete_=True, type='M3NetBackbone', input_dims=dict(text=100, audio=60, visual=40),
        node_dim=512, graph_hidden=512, num_hyper_layers=3, num_gated_layers=4,
        dropout=0.5, text_proj=True, text_norm=True, use_speaker=True, num_speakers=2),
    head=dict())
