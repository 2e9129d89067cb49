# MMGCN (Hu et al., ACL 2021) on MELD with the published recipe: the second command of
# hujingwen6666/MMGCN's run.sh (`--graph_type MMGCN --modals avl --use_speaker
# --dropout 0.4 --lr 0.001 --batch-size 16 --l2 0.0 --epochs 60`, no class weights; 64
# GCNII layers), the published classifier (LinearLabelHead), on the public multimodal
# feature file of configs/_base_/datasets/meld.py.  No feature-dimension mask.
# Checkpoint chosen on validation, not on test as published (docs/model_zoo.md).
_base_ = ['../vega/vega_meld.py']

model = dict(
    class_weight=None,
    backbone=dict(
        _delete_=True, type='MMGCNBackbone', input_dims=dict(text=1024, audio=300, visual=342),
        context_dim=100, graph_hidden=100, text_proj_dim=200, num_layers=64,
        alpha=0.1, lamda=0.5, dropout=0.4, use_speaker=True, num_speakers=9),
    head=dict(
        vega_head=None,
        label_head=dict(
            type='LinearLabelHead', dropout=0.4,
            loss=dict(loss_weight=1.0, kd_loss_weight=0.0,
                      branch_weights=dict(fused=1.0, text=0.0, audio=0.0, visual=0.0)))))

train_pipeline = [dict(type='PackConversationInputs')]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='Adam', lr=1e-3, weight_decay=0.0))
train_cfg = dict(max_epochs=60)
default_hooks = dict(early_stopping=dict(patience=60))
