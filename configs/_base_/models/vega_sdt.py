# VEGA on an SDT backbone with the published IEMOCAP hyperparameters (vega-method.md §5).
# Dataset configs override input_dims, num_speakers, num_classes and class weights.
hidden_dim = 768
model = dict(
    type='ConversationClassifier',
    data_preprocessor=dict(type='ConversationDataPreprocessor', num_speakers=2),
    neck=dict(
        type='SDTNeck',
        input_dims=dict(text=1024, audio=1582, visual=342),
        hidden_dim=hidden_dim,
        num_heads=4,
        num_layers=1,
        dropout=0.53,
        num_speakers=2),
    head=dict(
        type='MultiBranchClsHead',
        num_classes=6,
        in_channels=hidden_dim,
        branches=('fused', 'text', 'audio', 'visual'),
        teacher='fused',
        dropout=0.396,
        loss_weight=0.952,
        branch_weights=dict(fused=0.767, text=0.513, audio=0.354, visual=0.775),
        kd_loss_weight=0.347,
        kd_weights=dict(text=0.389, audio=0.687, visual=0.781),
        init_temperature=2.0),
    vega_head=dict(
        type='VEGAHead',
        num_classes=6,
        in_channels=hidden_dim,
        branches=('fused', 'text', 'audio', 'visual'),
        teacher='fused',
        proj_dropout=0.374,
        logit_scale=100.0,
        loss_weight=0.462,
        branch_weights=dict(fused=0.528, text=0.169, audio=0.302, visual=0.225),
        kd_loss_weight=0.487,
        kd_weights=dict(text=0.936, audio=0.273, visual=0.716),
        init_temperature=2.0,
        anchor_bank=dict(type='AnchorBank', dim=512, sample_prob=0.4)),
    predict_with='label',
)
