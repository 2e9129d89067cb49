# Text-only VEGA on MELD from features we extract ourselves (all-MiniLM-L6-v2, 384-d),
# the real-data benchmark of tools/benchmarks/meld_text_benchmark.py.
# Data: data/meld_text/meld_minilm.npz, made by
#   python tools/extract_features.py data/meld_text/meld_minilm.npz --meld ../shared/data/meld
# (train_sent_emo.csv -> train + a held-out 10% of its dialogues as val, dev -> test; the
# features are standardised with training-split statistics, stored in the file).
# Everything else is configs/vega/vega_meld.py (architecture, dropouts, loss weights,
# batch of 9 dialogues, AdamW), except:
# - one modality, declared once: `modalities = ('text', )` (the dataset, pipelines,
#   backbone inputs, head branches and distillation weights follow), 384-d MiniLM text;
# - sized for CPUs: hidden size 128 instead of 768 (an epoch takes a few seconds instead
#   of ~2 min on 2 cores), learning rate 3e-4 (9.84e-5 needs several times more
#   epochs), at most 30 epochs with early stopping after 10 without validation
#   improvement. H was chosen on the validation split (mean weighted F1 of seeds 0-2,
#   with the class weights below): H=128 60.20, H=256 59.79; H=512 and 768 were no
#   better than 256 in earlier runs; 50 epochs gave the same checkpoints as 30;
# - tempered class weights: the square roots of MELD's published weights (at most 4.2x
#   instead of 18x for fear and disgust), chosen on the validation split. Mean
#   validation weighted F1 of seeds 0-2: no weights 58.73, square roots 59.79,
#   published weights 55.47 (they trade weighted F1 for macro F1). Restore them with
#   --cfg-options model.class_weight="[1.0,3.934,17.978,6.423,2.789,17.828,4.005]";
# - anchors: no CLIP weights can be downloaded here, so the anchor bank is seeded random
#   (512-d, 8 exemplars per class): the anchor branch then acts as a fixed-prototype
#   classifier. With real anchors (tools/build_anchors.py), set anchor_bank=dict(
#   random_anchors=False, anchor_file='data/anchors/meld_anchor.pt').
_base_ = ['./vega_meld.py']

modalities = ('text', )

data_root = 'data/meld_text/'
ann_file = 'meld_minilm.npz'
# sqrt([1.0, 3.934, 17.978, 6.423, 2.789, 17.828, 4.005]), rounded
class_weight = [1.0, 1.983, 4.240, 2.534, 1.670, 4.222, 2.001]
model = dict(
    class_weight=class_weight,
    backbone=dict(input_dims=dict(text=384), hidden_dim=128),
    head=dict(
        vega_head=dict(
            anchor_bank=dict(
                _delete_=True, type='AnchorBank', dim=512, sample_prob=0.4,
                random_anchors=True, num_exemplars=8, random_seed=0))),
)

_data = dict(data_root=data_root, ann_file=ann_file)
train_dataloader = dict(dataset=_data)
val_dataloader = dict(dataset=_data)
test_dataloader = dict(dataset=_data)

optim_wrapper = dict(optimizer=dict(lr=3e-4))
train_cfg = dict(max_epochs=30)
default_hooks = dict(early_stopping=dict(patience=10))
