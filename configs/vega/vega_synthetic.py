# VEGA on the embedded synthetic conversations: the demo and test default, no files
# needed.  Same model family as the paper, sized for a laptop CPU (H=128, dropout 0.1,
# 32-d random anchors).  The synthetic data has 6 IEMOCAP-named classes, 2 speakers
# and text/audio/visual features of 100/60/40 dimensions whose class signal is spread
# over modalities and neighbouring utterances.
# Random anchors carry no visual meaning; they stand in for tools/build_anchors.py.
_base_ = [
    '../_base_/models/vega_sdt.py',
    '../_base_/schedules/vega_adamw.py',
    '../_base_/default_runtime.py',
]

classes = ('happy', 'sad', 'neutral', 'anger', 'excited', 'frustration')
# The modalities, declared once (see configs/_base_/datasets/iemocap.py).
modalities = ('text', 'audio', 'visual')

model = dict(
    classes=classes,
    backbone=dict(
        input_dims=dict(text=100, audio=60, visual=40),
        hidden_dim=128,
        num_heads=4,
        dropout=0.1,
        num_speakers=2),
    head=dict(
        label_head=dict(dropout=0.1),
        vega_head=dict(
            proj_dropout=0.1,
            anchor_bank=dict(
                type='AnchorBank', dim=32, random_anchors=True, num_exemplars=8,
                random_seed=0))),
)

train_pipeline = [
    # each feature dimension zeroed with p = 0.1 per dialogue (the published mask)
    dict(type='FeatureDimMask', ratio=0.1, mode='bernoulli'),
    dict(type='PackConversationInputs'),
]
test_pipeline = [dict(type='PackConversationInputs')]
# 400 / 40 / 60 dialogues of 8-24 utterances (each split from its own derived seed).
_data = dict(type='SyntheticConversationDataset', seed=2025, num_dialogues=(400, 40, 60))

train_dataloader = dict(
    batch_size=9,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=True),
    collate_fn=dict(type='vega_mm.conversation_collate'),
    dataset=dict(**_data, split='train', pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=20,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='vega_mm.conversation_collate'),
    dataset=dict(**_data, split='val', pipeline=test_pipeline))
test_dataloader = dict(
    batch_size=20,
    num_workers=0,
    sampler=dict(type='DefaultSampler', shuffle=False),
    collate_fn=dict(type='vega_mm.conversation_collate'),
    dataset=dict(**_data, split='test', pipeline=test_pipeline))
val_evaluator = dict(type='ERCMetric')
test_evaluator = val_evaluator

# A few minutes on 2 CPU cores: a higher learning rate than the paper's and at most 40
# epochs, stopping after 8 without validation improvement.
optim_wrapper = dict(optimizer=dict(lr=1e-3))
train_cfg = dict(max_epochs=40)
default_hooks = dict(logger=dict(interval=10), early_stopping=dict(patience=8))
