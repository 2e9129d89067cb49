# GraphSmile (Li et al., TPAMI 2025) on MELD with the published recipe: the MELD command of
# lijfrank-open/GraphSmile's README (`--textf_mode textf0 --loss_type emo_sen_sft --lr
# 7e-05 --batch_size 16 --hidden_dim 384 --win 3 3 --heter_n_layers 5 5 5 --drop 0.2
# --shift_win 3 --lambd 1.0 0.5 0.2 --epochs 50`, AdamW with amsgrad and --l2 1e-4, no
# class weights), the emotion classifier Linear(H, C) (LinearLabelHead, no dropout), on
# the public multimodal feature file of configs/_base_/datasets/meld.py.
# The loss: the emotion cross-entropy of the fused branch plus the sentiment and
# sentiment-shift losses of GraphSmileHead.
_base_ = ['../vega/vega_meld.py']

model = dict(
    class_weight=None,
    backbone=dict(
        _delete_=True, type='GraphSmileBackbone', input_dims=dict(text=1024, audio=300, visual=342),
        hidden_dim=384, window_past=3, window_future=3, num_layers=5, dropout=0.2,
        text_norm=True, num_speakers=9),
    head=dict(
        type='GraphSmileHead', vega_head=None,
        label_head=dict(
            type='LinearLabelHead', dropout=0.0,
            loss=dict(loss_weight=1.0, kd_loss_weight=0.0,
                      branch_weights=dict(fused=1.0, text=0.0, audio=0.0, visual=0.0))),
        # the sentiment-dynamics branch; sentiments derived from the emotions: MELD ships
        # per-utterance sentiments but the public pickle carries none vega_mm reads (a
        # file extracted from MELD's tables does: source='samples', as in
        # ./graphsmile_meld_text.py); every MELD emotion but surprise has one sentiment
        # in MELD's annotations, surprise (half negative, half positive) is unknown (-1)
        # and left out of the sentiment losses (docs/model_zoo.md)
        sentiment=dict(source='derive', emotion_to_sentiment=[1, -1, 0, 0, 2, 0, 0],
                       shift_window=3, loss_weights=(0.5, 0.2))))

train_pipeline = [dict(type='PackConversationInputs')]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(
    _delete_=True, type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=7e-5, weight_decay=1e-4, amsgrad=True))
train_cfg = dict(max_epochs=50)
default_hooks = dict(early_stopping=dict(patience=50))
