# VEGA on MELD (7 classes).  The paper publishes hyperparameters for IEMOCAP only; this
# config keeps every one of them (architecture, dropouts, loss weights, optimiser,
# batch of 9 dialogues, early stopping) and changes only what MELD itself dictates:
# feature dimensions (text 1024, audio 300, visual 342), 9 speakers, 7 classes and the
# published MELD class weights (set below, model.class_weight; classes and files in
# configs/_base_/datasets/meld.py).
# Data: the SDT/MMGCN feature pickle at data/meld/meld_multimodal_features.pkl;
# anchors: data/anchors/meld_anchor.pt (published file or tools/build_anchors.py).
_base_ = [
    '../_base_/models/vega_sdt.py',
    '../_base_/datasets/meld.py',
    '../_base_/schedules/vega_adamw.py',
    '../_base_/default_runtime.py',
]

# What the model takes from the data: classes, feature dimensions of the public file,
# speakers (8 main ones + other) and the published class weights.
model = dict(
    classes={{_base_.classes}},
    class_weight=[1.0, 3.93398523, 17.97765350, 6.42315388, 2.78856158, 17.82825470,
                  4.00497818],
    backbone=dict(input_dims=dict(text=1024, audio=300, visual=342), num_speakers=9),
    head=dict(
        vega_head=dict(anchor_bank=dict(anchor_file='data/anchors/meld_anchor.pt'))))
