# DialogueGCN (Ghosal et al., EMNLP 2019) on IEMOCAP with the published recipe: the
# command of declare-lab/conv-emotion's README (`train_IEMOCAP.py --base-model LSTM
# --graph-model --nodal-attention --dropout 0.4 --lr 0.0003 --batch-size 32 --class-weight
# --l2 0.0`, 60 epochs), the published classifier (dropout, linear: LinearLabelHead) and
# class weights (1 / class frequency, as published).
# The published model reads the text features only (modalities = ('text', )); this
# config reads the public multimodal feature file of configs/_base_/datasets/iemocap.py
# (1024-d text).  No feature-dimension mask (that is VEGA's augmentation).
# vega_mm's protocol, not the published one: the checkpoint is chosen on a validation
# split held out of training (10% of its dialogues); the published script reports the
# best test F1 over the epochs (docs/model_zoo.md).
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
        vega_head=None,
        label_head=dict(
            type='LinearLabelHead', dropout=0.4,
            loss=dict(loss_weight=1.0, kd_loss_weight=0.0,
                      branch_weights=dict(fused=1.0, text=0.0, audio=0.0, visual=0.0)))))

train_pipeline = [dict(type='PackConversationInputs')]
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='Adam', lr=3e-4, weight_decay=0.0))
train_cfg = dict(max_epochs=60)
default_hooks = dict(early_stopping=dict(patience=60))
