# MMGCN (Hu et al., ACL 2021) on IEMOCAP with the published recipe: the first command of
# hujingwen6666/MMGCN's run.sh (`--graph_type MMGCN --modals avl --use_speaker
# --dropout 0.4 --lr 0.0003 --batch-size 16 --l2 0.00003 --class-weight --epochs 20`;
# the model is built with 64 GCNII layers whatever --Deep_GCN_nlayers says), the
# published classifier (dropout, ReLU, linear: LinearLabelHead after the backbone's ReLU)
# and class weights (1 / class frequency, as published), on the public multimodal
# feature file of configs/_base_/datasets/iemocap.py.  No feature-dimension mask.
# vega_mm's protocol, not the published one: the checkpoint is chosen on a validation
# split held out of training; the published script reports the best test F1 over the
# epochs (docs/model_zoo.md).
_base_ = ['../vega/vega_iemocap.py']

model = dict(
    class_weight=[11.5278, 6.9249, 4.3882, 6.2272, 7.8302, 3.9578],
    backbone=dict(
        _delete_=True, type='MMGCNBackbone', input_dims=dict(text=1024, audio=1582, visual=342),
        context_dim=100, graph_hidden=100, text_proj_dim=200, num_layers=64,
        alpha=0.1, lamda=0.5, dropout=0.4, use_speaker=True, num_speakers=2),
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
    optimizer=dict(type='Adam', lr=3e-4, weight_decay=3e-5))
train_cfg = dict(max_epochs=20)
default_hooks = dict(early_stopping=dict(patience=20))
