# DialogueGCN (Ghosal et al., EMNLP 2019) on MELD (the public multimodal feature file of
# configs/_base_/datasets/meld.py, text only as the published model reads it).
# The published code has no MELD command: this is the IEMOCAP command's recipe (Adam,
# lr 3e-4, no L2, batch 32, 60 epochs, dropout 0.4, windows 10/10, nodal attention)
# with MELD's 9 speakers (2 * 9^2 = 162 relations) and no class weights (the published
# weights are IEMOCAP's).  Checkpoint chosen on validation (docs/model_zoo.md).
_base_ = ['../vega/vega_meld.py']

modalities = ('text', )

model = dict(
    class_weight=None,
    backbone=dict(
        _delete_=True, type='DialogueGCNBackbone', input_dims=dict(text=1024),
        hidden_dim=100, context_dim=100, num_speakers=9, max_len=110,
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
