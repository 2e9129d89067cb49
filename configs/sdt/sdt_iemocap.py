# SDT on IEMOCAP (6 classes): the VEGA ablation without the anchor branch.
# Data: the SDT/MMGCN feature pickle at data/iemocap/iemocap_multimodal_features.pkl.
# Same backbone, label-space head, data and schedule as configs/vega/vega_iemocap.py.
_base_ = [
    '../_base_/models/vega_sdt.py',
    '../_base_/datasets/iemocap.py',
    '../_base_/schedules/vega_adamw.py',
    '../_base_/default_runtime.py',
]

class_weight = [2.85339499, 1.70571959, 1.08255267, 1.67633724, 1.77617681, 1.0]
model = dict(
    vega_head=None,
    data_preprocessor=dict(num_speakers=2),
    neck=dict(input_dims=dict(text=1024, audio=1582, visual=342), num_speakers=2),
    head=dict(num_classes=6, class_weight=class_weight),
)
