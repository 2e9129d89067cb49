# GraphSmile (Li et al., TPAMI 2025) on IEMOCAP with the published recipe: the IEMOCAP-6 command of
# lijfrank-open/GraphSmile's README (`--textf_mode textf0 --loss_type emo_sen_sft --lr
# 1e-04 --batch_size 16 --hidden_dim 512 --win 17 17 --heter_n_layers 7 7 7 --drop 0.2
# --shift_win 19 --lambd 1.0 1.0 0.7 --epochs 120`, AdamW with amsgrad and --l2 1e-4, no
# class weights), the emotion classifier Linear(H, C) (LinearLabelHead, no dropout), on
# the public multimodal feature file of configs/_base_/datasets/iemocap.py.
# The loss: the emotion cross-entropy of the fused branch plus the sentiment and
# sentiment-shift losses of GraphSmileHead.
_base_ = ['../vega/vega_iemocap.py']

model = dict(
    class_weight=None,
    backbone=dict(
        _delete_=True, type='GraphSmileBackbone', input_dims=dict(text=1024, audio=1582, visual=342),
        hidden_dim=512, window_past=17, window_future=17, num_layers=7, dropout=0.2,
        text_norm=True, num_speakers=2),
    head=dict(
        type='GraphSmileHead', vega_head=None,
        label_head=dict(
            type='LinearLabelHead', dropout=0.0,
            loss=dict(loss_weight=1.0, kd_loss_weight=0.0,
                      branch_weights=dict(fused=1.0, text=0.0, audio=0.0, visual=0.0))),
        # the sentiment-dynamics branch; sentiments derived from the emotions as the
        # published code does (happy, excited: positive; neutral: neutral; sad, anger,
        # frustrated: negative)
        sentiment=dict(source='derive', emotion_to_sentiment=[2, 0, 1, 0, 2, 0],
                       shift_window=19, loss_weights=(1.0, 0.7))))

train_pipeline = [dict(type='PackConversationInputs')]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=1e-4, weight_decay=1e-4, amsgrad=True))
train_cfg = dict(max_epochs=120)
default_hooks = dict(early_stopping=dict(patience=120))
