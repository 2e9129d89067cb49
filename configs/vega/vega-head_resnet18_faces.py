# Facial-expression recognition with a VEGA head on an mmpretrain ImageClassifier:
# ResNet-18 -> global average pooling -> VEGAHead, whose class decisions are scaled
# cosines to visual emotion anchors (CLIP image features of face images per class).
#
# Data: mmpretrain's CustomDataset on an image folder with one subfolder per class, split
# into train/val/test folders (the FER2013 / RAF-DB layout):
#
#   data/faces/train/angry/*.jpg  data/faces/train/disgust/*.jpg ...
#   data/faces/val/angry/*.jpg    ...
#   data/faces/test/angry/*.jpg   ...
#
# CustomDataset numbers the classes in the sorted order of the subfolder names, so
# `classes` below must be those names, sorted.  docs/mmpretrain_heads.md shows how to
# split a single class folder (such as ../shared/data/faces) deterministically.
#
# Anchors: built from the TRAINING images only (never from val/test), with CLIP ViT-B/32:
#   python tools/build_anchors.py data/faces/train --out data/anchors/faces_vitb32.pt \
#       --weights openai
# Any anchor dimension works: the head projects the 512-d ResNet feature to it.
#
# Model selection on val top-1 accuracy; tools/train.py then evaluates the best
# checkpoint on val and test.
_base_ = ['../_base_/default_runtime.py']
# mmpretrain's datasets and transforms (CustomDataset, PackInputs...) are found through
# vega_mm's child registries once their module is imported.
custom_imports = dict(imports=['mmpretrain.datasets'], allow_failed_imports=False)

classes = ('angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise')
data_root = 'data/faces'
anchors = 'data/anchors/faces_vitb32.pt'
# FER images are small (FER2013: 48 px); 112 px keeps ResNet-18 cheap.  Use 224 with
# ImageNet-pretrained weights of large face images.
img_size = 112
max_epochs = 60

model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(
        type='ClsDataPreprocessor',
        num_classes=len(classes),
        # ImageNet RGB statistics (grayscale faces are loaded as 3 equal channels)
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        to_rgb=True),
    backbone=dict(
        type='ResNet',
        depth=18,
        num_stages=4,
        out_indices=(3, ),
        style='pytorch'),
    # From scratch.  To start from ImageNet weights (a local file or mmpretrain's
    # https://download.openmmlab.com/mmclassification/v0/resnet/
    # resnet18_8xb32_in1k_20210831-fbbb1da6.pth), add to the backbone
    #   init_cfg=dict(type='Pretrained', checkpoint=CKPT, prefix='backbone')
    # e.g. --cfg-options model.backbone.init_cfg.type=Pretrained
    #   model.backbone.init_cfg.checkpoint=CKPT model.backbone.init_cfg.prefix=backbone
    neck=dict(type='GlobalAveragePooling'),
    head=dict(
        type='VEGAHead',
        num_classes=len(classes),
        in_channels=512,
        anchors=anchors,
        # anchors are matched to these classes by name (aliases such as joy/happy allowed)
        class_names=classes,
        sample_prob=0.4,
        proj_dropout=0.2,
        logit_scale=100.0,
        topk=(1, )),
)
# The dual-branch form (a label-space MLP + the VEGA head, distilling into each other):
# model = dict(head=dict(_delete_=True, type='DualBranchHead', num_classes=7,
#                        in_channels=512, anchors=anchors, class_names=classes,
#                        distill='mutual', kd_loss_weight=0.5, predict_with='label'))

train_pipeline = [
    dict(type='LoadImageFromFile'),  # 3-channel BGR, also for grayscale files
    dict(type='RandomResizedCrop', scale=img_size, crop_ratio_range=(0.7, 1.0)),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(img_size, img_size)),
    dict(type='PackInputs'),
]

_dataset = dict(type='CustomDataset', data_root=data_root, with_label=True)
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(**_dataset, data_prefix='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**_dataset, data_prefix='val', pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=64,
    num_workers=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**_dataset, data_prefix='test', pipeline=test_pipeline))
# accuracy/top1 (FER2013's metric) and macro precision / recall / F1 (macro recall is
# RAF-DB's "average accuracy"), all from mmpretrain, unchanged.
val_evaluator = [
    dict(type='Accuracy', topk=(1, )),
    dict(type='SingleLabelMetric', items=('precision', 'recall', 'f1-score')),
]
test_evaluator = val_evaluator

optim_wrapper = dict(
    type='OptimWrapper', optimizer=dict(type='AdamW', lr=1e-3, weight_decay=0.05))
param_scheduler = [
    dict(type='CosineAnnealingLR', by_epoch=True, T_max=max_epochs, eta_min=1e-5,
         convert_to_iter_based=True),
]
train_cfg = dict(type='EpochBasedTrainLoop', max_epochs=max_epochs, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

# Select (and early-stop) on validation top-1 accuracy instead of the conversation
# configs' weighted F1.
default_hooks = dict(
    logger=dict(interval=10),
    checkpoint=dict(save_best='accuracy/top1', rule='greater'),
    # the runtime's early stopping watched the conversation metric erc/weighted_f1,
    # which this evaluator never reports (so it silently did nothing)
    early_stopping=dict(monitor='accuracy/top1', rule='greater', patience=15))
custom_hooks = [
    dict(type='EpochSeedHook'),
    # ramps/logs distillation where a head has it (DualBranchHead); harmless otherwise
    dict(type='SelfDistillationHook', warmup_epochs=0),
]
