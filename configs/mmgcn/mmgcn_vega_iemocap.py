# MMGCN (Hu et al., ACL 2021) with VEGA's head (label space + anchor
# space, DualBranchHead as in ../vega/vega_iemocap.py, its anchor file included) on
# IEMOCAP: the backbone and training recipe of ./mmgcn_iemocap.py; only the head differs.
# MMGCN gives per-modality features (each modality's graph nodes): every branch gets
# its label and anchor head and the fused branch distils into the modalities, as in
# VEGA, with VEGA's loss weights.
_base_ = ['../vega/vega_iemocap.py']

model = dict(
    class_weight=[11.5278, 6.9249, 4.3882, 6.2272, 7.8302, 3.9578],
    backbone=dict(
        _delete_=True, type='MMGCNBackbone', input_dims=dict(text=1024, audio=1582, visual=342),
        context_dim=100, graph_hidden=100, text_proj_dim=200, num_layers=64,
        alpha=0.1, lamda=0.5, dropout=0.4, use_speaker=True, num_speakers=2),
    head=dict())

train_pipeline = [dict(type='PackConversationInputs')]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='Adam', lr=3e-4, weight_decay=3e-5))
train_cfg = dict(max_epochs=20)
default_hooks = dict(early_stopping=dict(patience=20))
