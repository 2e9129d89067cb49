# Text-only SDT on MELD from our MiniLM features: configs/sdt/sdt_meld.py with one
# modality and the same data, hidden size (128), learning rate (3e-4), tempered class
# weights and schedule as configs/vega/vega_meld_text.py (see there for why, and for
# how to make data/meld_text/meld_minilm.npz).
_base_ = ['./sdt_meld.py']

data_root = 'data/meld_text/'
ann_file = 'meld_minilm.npz'
modalities = ('text', )
text_dim = 384
# sqrt of MELD's published class weights, as in configs/vega/vega_meld_text.py
class_weight = [1.0, 1.983, 4.240, 2.534, 1.670, 4.222, 2.001]

hidden_dim = 128
model = dict(
    neck=dict(input_dims=dict(_delete_=True, text=text_dim), hidden_dim=hidden_dim),
    head=dict(branches=('fused', 'text'), kd_weights=dict(_delete_=True, text=0.389),
              in_channels=hidden_dim, class_weight=class_weight),
)

train_pipeline = [
    dict(type='FeatureDimMask', ratio=0.1),
    dict(type='PackConversationInputs', modalities=modalities),
]
test_pipeline = [dict(type='PackConversationInputs', modalities=modalities)]
_data = dict(data_root=data_root, ann_file=ann_file, modalities=modalities)
train_dataloader = dict(dataset=dict(**_data, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(**_data, pipeline=test_pipeline))
test_dataloader = dict(dataset=dict(**_data, pipeline=test_pipeline))

optim_wrapper = dict(optimizer=dict(lr=3e-4))
train_cfg = dict(max_epochs=30)
custom_hooks = [
    dict(type='EpochSeedHook'),
    dict(type='SelfDistillationHook', warmup_epochs=0),
    dict(type='ResumableEarlyStoppingHook', monitor='erc/weighted_f1', rule='greater',
         patience=10),
]
