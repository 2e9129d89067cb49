# DialogueGCN (Ghosal et al., EMNLP 2019) with VEGA's head (label space + anchor
# space, DualBranchHead as in ../vega/vega_iemocap.py, its anchor file included) on
# IEMOCAP: the backbone and training recipe of ./dialoguegcn_iemocap.py; only the head differs.
# DialogueGCN gives only fused features (it reads the concatenated modalities, here
# text): the label head and the anchor head run on the fused branch alone (the
# modality branches get weight 0, no distillation between branches).
_base_ = ['../vega/vega_iemocap.py']

modalities = ('text', )

model = dict(
    class_weight=[11.5278, 6.9249, 4.3882, 6.2272, 7.8302, 3.9578],
    backbone=dict(
        _delete_=True, type='DialogueGCNBackbone', input_dims=dict(text=1024),
        hidden_dim=100, context_dim=100, num_speakers=2, max_len=110,
        window_past=10, window_future=10, num_bases=30, nodal_attention=True,
        dropout=0.4),
    head=dict(
        label_head=dict(loss=dict(
            kd_loss_weight=0.0, branch_weights=dict(text=0.0, audio=0.0, visual=0.0))),
        vega_head=dict(loss=dict(
            kd_loss_weight=0.0, branch_weights=dict(text=0.0, audio=0.0, visual=0.0)))))

train_pipeline = [dict(type='PackConversationInputs')]
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='Adam', lr=3e-4, weight_decay=0.0))
train_cfg = dict(max_epochs=60)
default_hooks = dict(early_stopping=dict(patience=60))
