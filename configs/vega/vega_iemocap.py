# VEGA on IEMOCAP (6 classes) with the published hyperparameters (vega-method.md §5).
# Data: the SDT/MMGCN feature pickle at data/iemocap/iemocap_multimodal_features.pkl;
# anchors: data/anchors/iemocap_anchor.pt (published file or tools/build_anchors.py).
_base_ = [
    '../_base_/models/vega_sdt.py',
    '../_base_/datasets/iemocap.py',
    '../_base_/schedules/vega_adamw.py',
    '../_base_/default_runtime.py',
]

class_weight = [2.85339499, 1.70571959, 1.08255267, 1.67633724, 1.77617681, 1.0]
model = dict(
    data_preprocessor=dict(num_speakers=2),
    neck=dict(input_dims=dict(text=1024, audio=1582, visual=342), num_speakers=2),
    head=dict(num_classes=6, class_weight=class_weight),
    vega_head=dict(
        num_classes=6,
        class_weight=class_weight,
        anchor_bank=dict(
            anchor_file='data/anchors/iemocap_anchor.pt',
            class_names=('happy', 'sad', 'neutral', 'anger', 'excited', 'frustration'),
            # IEMOCAP's excited and frustration have no face exemplars of their own in
            # most face collections: they borrow the nearest basic emotion.  Only used
            # when the anchor file has no entry for them.
            class_mapping=dict(excited='happy', frustration='angry'))),
)
