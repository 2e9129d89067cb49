# VEGA on IEMOCAP (6 classes) with the published hyperparameters (docs/method.md).
# Data: the SDT/MMGCN feature pickle at data/iemocap/iemocap_multimodal_features.pkl;
# anchors: data/anchors/iemocap_anchor.pt (published file or tools/build_anchors.py).
# Classes, modalities, files and pipelines: configs/_base_/datasets/iemocap.py; the
# feature dimensions, speakers and class weights are set below (model=...).
_base_ = [
    '../_base_/models/vega_sdt.py',
    '../_base_/datasets/iemocap.py',
    '../_base_/schedules/vega_adamw.py',
    '../_base_/default_runtime.py',
]

# What the model takes from the data: classes, feature dimensions of the public file,
# speakers (M/F) and the published class weights.
model = dict(
    classes={{_base_.classes}},
    class_weight=[2.85339499, 1.70571959, 1.08255267, 1.67633724, 1.77617681, 1.0],
    backbone=dict(input_dims=dict(text=1024, audio=1582, visual=342), num_speakers=2),
    head=dict(
        vega_head=dict(
            anchor_bank=dict(
                anchor_file='data/anchors/iemocap_anchor.pt',
                # IEMOCAP's excited and frustration have no face exemplars of their own in
                # most face collections: they borrow the nearest basic emotion.  Only used
                # when the anchor file has no entry for them.
                class_mapping=dict(excited='happy', frustration='angry')))))
