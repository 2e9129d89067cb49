# M3Net (Chen et al., CVPR 2023) with VEGA's head (label space + anchor space,
# DualBranchHead as in ../vega/vega_iemocap.py) on the data of ./m3net_iemocap.py, with its
# backbone and training recipe; only the head differs.
# M3Net gives per-modality features (each modality's graph nodes): every branch gets
# its label and anchor head and the fused branch distils into the modalities, as in
# VEGA, with VEGA's loss weights.
_base_ = ['../vega/vega_iemocap.py']

model = dict(
    class_weight=[11.5278, 6.9249, 4.3882, 6.2272, 7.8302, 3.9578],
    backbone=dict(
        _delete_=True, type='M3NetBackbone', input_dims=dict(text=1024, audio=1582, visual=342),
        node_dim=512, graph_hidden=512, num_hyper_layers=3, num_gated_layers=4,
        dropout=0.5, text_proj=True, text_norm=True, use_speaker=True, num_speakers=2,
        # room for the learned per-position weights of any 16 shuffled IEMOCAP dialogues
        # (up to 16 x 110 utterances; the published 1000 / 5200 fit its fixed, unshuffled
        # batches only): positions the published model has are the same
        max_hyperedges=2000, max_nodes=6000),
    head=dict())

train_pipeline = [dict(type='PackConversationInputs')]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-4, weight_decay=3e-5))
train_cfg = dict(max_epochs=80)
default_hooks = dict(early_stopping=dict(patience=80))
