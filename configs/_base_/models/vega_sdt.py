# VEGA on an SDT backbone with the published IEMOCAP hyperparameters (docs/method.md).
# Dataset facts are not set here: the modalities and classes come from the dataset
# config (configs/_base_/datasets/), the feature dimensions, speakers and class weights
# from each method config (model.backbone.input_dims, model.backbone.num_speakers,
# model.class_weight, e.g. configs/vega/vega_iemocap.py); the model derives its head's
# branches, widths and class count from them (see ConversationClassifier).  One head:
# VEGA's label space (LabelHead) and anchor space (VEGAHead) in a DualBranchHead,
# without distillation between the two spaces (each distils from its fused branch to
# the modalities).
model = dict(
    type='ConversationClassifier',
    data_preprocessor=dict(type='ConversationDataPreprocessor'),
    backbone=dict(
        # SDTBackbone's maths computed as a few batched products (same outputs, same
        # checkpoint keys); type='SDTBackbone' is the per-pair reference implementation.
        type='FusedSDTBackbone',
        hidden_dim=768,
        num_heads=4,
        num_layers=1,
        dropout=0.53),
    head=dict(
        type='DualBranchHead',
        distill=None,
        label_head=dict(
            type='LabelHead',
            dropout=0.3963,
            loss=dict(
                type='MultiBranchLoss',
                teacher='fused',
                loss_weight=0.952145912451511,
                branch_weights=dict(
                    fused=0.7666280675458248, text=0.51322460223468647,
                    audio=0.353586961732085, visual=0.7752948515843562),
                kd_loss_weight=0.34682017654570013,
                kd_weights=dict(
                    text=0.3890408530969896, audio=0.6867174752097939,
                    visual=0.7814637321138567),
                init_temperature=2.0)),
        vega_head=dict(
            type='VEGAHead',
            proj_dropout=0.37442,
            logit_scale=100.0,
            loss=dict(
                type='MultiBranchLoss',
                teacher='fused',
                loss_weight=0.46216,
                branch_weights=dict(
                    fused=0.5279318174861871, text=0.16915412370438695,
                    audio=0.30204579599936027, visual=0.22488632753078353),
                kd_loss_weight=0.4868,
                kd_weights=dict(text=0.9357852654818557, audio=0.27293, visual=0.71586),
                init_temperature=2.0),
            anchor_bank=dict(type='AnchorBank', dim=512, sample_prob=0.4))),
    predict_with='label',
    # the heads' dropout with the faster mask (same distribution); with
    # backbone.type='SDTBackbone', fast_dropout=False is the reference implementation
    fast_dropout=True,
)
