# MMGCN (Hu et al., ACL 2021) with VEGA's head (label space + anchor
# space, DualBranchHead as in ../vega/vega_meld.py, its anchor file included) on
# MELD: the backbone and training recipe of ./mmgcn_meld.py; only the head differs.
# MMGCN gives per-modality features (each modality's graph nodes): every branch gets
# its label and anchor head and the fused branch distils into the modalities, as in
# VEGA, with VEGA's loss weights.
_base_ = ['../vega/vega_meld.py']

model = dict(
    class_weight=None,
    backbone=dict(
        _delete_=True, type='MMGCNBackbone', input_dims=dict(text=1024, audio=300, visual=342),
        context_dim=100, graph_hidden=100, text_proj_dim=200, num_layers=64,
        alpha=0.1, lamda=0.5, dropout=0.4, use_speaker=True, num_speakers=9),
    head=dict())

train_pipeline = [dict(type='PackConversationInputs')]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, weight_decay=0.0))
train_cfg = dict(max_epochs=60)
default_hooks = dict(early_stopping=dict(patience=60))
