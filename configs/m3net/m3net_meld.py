# M3Net (Chen et al., CVPR 2023) on MELD with the published recipe: the MELD command of
# feiyuchen7/M3NET's README (`--base-model GRU --dropout 0.4 --lr 0.0001 --batch-size 16
# --graph_type hyper --epochs 15 --graph_construct direct --multi_modal
# --mm_fusion_mthd concat_DHT --modals avl --Dataset MELD --norm BN --num_L 3
# --num_K 3`), D_g = 1024 (the text goes to the GRU unprojected, as published),
# graph_h = 512, the published classifier (LinearLabelHead), on the public multimodal
# feature file of configs/_base_/datasets/meld.py.
# Differences (docs/model_zoo.md): cross-entropy, not the published focal-style loss;
# the checkpoint is chosen on validation, not on test as published.
# The loss is the cross-entropy of the fused branch alone.
_base_ = ['../vega/vega_meld.py']

model = dict(
    class_weight=None,
    backbone=dict(
        _delete_=True, type='M3NetBackbone', input_dims=dict(text=1024, audio=300, visual=342),
        node_dim=1024, graph_hidden=512, num_hyper_layers=3, num_gated_layers=3,
        dropout=0.4, text_proj=False, text_norm=True, use_speaker=True, num_speakers=9),
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
    optimizer=dict(type='Adam', lr=1e-4, weight_decay=3e-5))
train_cfg = dict(max_epochs=15)
default_hooks = dict(early_stopping=dict(patience=15))
