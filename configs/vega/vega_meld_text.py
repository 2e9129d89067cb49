# Text-only VEGA on MELD from features we extract ourselves (all-MiniLM-L6-v2, 384-d),
# the real-data benchmark of tools/benchmarks/meld_text_benchmark.py.
# Data: data/meld_text/meld_minilm.npz, made by
#   python tools/extract_features.py data/meld_text/meld_minilm.npz --meld ../shared/data/meld
# (train_sent_emo.csv -> train + a held-out 10% of its dialogues as val, dev -> test; the
# features are standardised with training-split statistics, stored in the file).
# Everything else is configs/vega/vega_meld.py (published hyperparameters, MELD class
# weights), except:
# - one modality: neck.input_dims=dict(text=384), branches ('fused', 'text');
# - anchors: no CLIP weights can be downloaded here, so the anchor bank is seeded random
#   (512-d, 8 exemplars per class). With real anchors (tools/build_anchors.py), set
#   anchor_bank=dict(random_anchors=False, anchor_file='data/anchors/meld_anchor.pt').
# - schedule sized for CPUs: at most 40 epochs, early stop after 8 without validation
#   improvement (MiniLM features converge within ~10-20 epochs).
_base_ = ['./vega_meld.py']

data_root = 'data/meld_text/'
ann_file = 'meld_minilm.npz'
modalities = ('text', )
text_dim = 384
classes = ('neutral', 'surprise', 'fear', 'sadness', 'joy', 'disgust', 'anger')

model = dict(
    neck=dict(input_dims=dict(_delete_=True, text=text_dim)),
    head=dict(branches=('fused', 'text'), kd_weights=dict(_delete_=True, text=0.389)),
    vega_head=dict(
        branches=('fused', 'text'),
        kd_weights=dict(_delete_=True, text=0.936),
        anchor_bank=dict(
            _delete_=True, type='AnchorBank', dim=512, sample_prob=0.4,
            class_names=classes, random_anchors=True, random_num_exemplars=8,
            random_seed=0)),
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

train_cfg = dict(max_epochs=40)
custom_hooks = [
    dict(type='EpochSeedHook'),
    dict(type='SelfDistillationHook', warmup_epochs=0),
    dict(type='ResumableEarlyStoppingHook', monitor='erc/weighted_f1', rule='greater',
         patience=8),
]
