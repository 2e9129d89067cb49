# SDT on MELD (7 classes): the VEGA ablation without the anchor branch.
# The paper publishes hyperparameters for IEMOCAP only; like configs/vega/vega_meld.py
# this keeps all of them and changes only feature dimensions (text 1024, audio 300,
# visual 342), 9 speakers, 7 classes and the published MELD class weights.
# Data: the SDT/MMGCN feature pickle at data/meld/meld_multimodal_features.pkl.
# Same backbone, label-space head, data and schedule as configs/vega/vega_meld.py.
_base_ = [
    '../_base_/models/vega_sdt.py',
    '../_base_/datasets/meld.py',
    '../_base_/schedules/vega_adamw.py',
    '../_base_/default_runtime.py',
]

class_weight = [1.0, 3.93398523, 17.97765350, 6.42315388, 2.78856158, 17.82825470, 4.00497818]
model = dict(
    vega_head=None,
    data_preprocessor=dict(num_speakers=9),
    neck=dict(input_dims=dict(text=1024, audio=300, visual=342), num_speakers=9),
    head=dict(num_classes=7, class_weight=class_weight),
)
