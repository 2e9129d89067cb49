# M3Net (Chen et al., CVPR 2023) with VEGA's head (label space + anchor space,
# DualBranchHead as in ../vega/vega_meld.py) on the data of ./m3net_meld.py, with its
# backbone and training recipe; only the head differs.
# M3Net gives per-modality features (each modality's graph nodes): every branch gets
# its label and anchor head and the fused branch distils into the modalities, as in
# VEGA, with VEGA's loss weights.
_base_ = ['../vega/vega_meld.py']

model = dict(
    class_weight=None,
    backbone=dict(
        _delete_=True, type='M3NetBackbone', input_dims=dict(text=1024, audio=300, visual=342),
        node_dim=1024, graph_hidden=512, num_hyper_layers=3, num_gated_layers=3,
        dropout=0.4, text_proj=False, text_norm=True, use_speaker=True, num_speakers=9),
    head=dict())

train_pipeline = [dict(type='PackConversationInputs')]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-4, weight_decay=3e-5))
train_cfg = dict(max_epochs=15)
default_hooks = dict(early_stopping=dict(patience=15))
