# MELD from the public SDT/MMGCN feature pickle, placed at data/meld/meld_multimodal_features.pkl
# (relative to the working directory).  VEGA 7-item pickles and vega_mm .npz files work
# too (data_format='auto').  The pickle has no validation split: the dataset holds out a
# deterministic 10% of the training dialogues (val_ratio, val_seed) for model selection.
dataset_type = 'ConversationDataset'
data_root = 'data/meld/'
ann_file = 'meld_multimodal_features.pkl'
classes = ('neutral', 'surprise', 'fear', 'sadness', 'joy', 'disgust', 'anger')

# The modalities, declared once: the dataset, the pipelines, the backbone's inputs, the
# heads' branches and the distillation weights follow (a text-only experiment sets
# `modalities = ('text', )`).
modalities = ('text', 'audio', 'visual')

train_pipeline = [
    # each feature dimension zeroed with p = 0.1 per dialogue (the published mask)
    dict(type='FeatureDimMask', ratio=0.1, mode='bernoulli'),
    dict(type='PackConversationInputs'),
]
test_pipeline = [dict(type='PackConversationInputs')]

_data = dict(
    type=dataset_type, data_root=data_root, ann_file=ann_file,
    metainfo=dict(classes=classes), val_ratio=0.1, val_seed=0)

train_dataloader = dict(
    batch_size=9,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='vega_mm.conversation_collate'),
    dataset=dict(**_data, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='vega_mm.conversation_collate'),
    dataset=dict(**_data, split='val', pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=16,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='vega_mm.conversation_collate'),
    dataset=dict(**_data, split='test', pipeline=test_pipeline))

val_evaluator = dict(type='ERCMetric')
test_evaluator = val_evaluator
