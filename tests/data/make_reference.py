"""Made once with the code of commit ea28674 (the faithful maths, before the
consolidation); runs only on that commit. Writes a tiny model's checkpoint in that
code's key layout (legacy_checkpoint.pth), a batch and every output (reference_outputs.pt).

    PYTHONPATH=. python tests/data/make_reference.py
"""
import torch, copy
from mmengine.registry import init_default_scope
import vega_mm  # noqa
from vega_mm.registry import MODELS
from tests.model_utils import make_batch, model_cfg
init_default_scope('vega_mm')
cfg = model_cfg()
torch.manual_seed(0)
model = MODELS.build(cfg)
batch = make_batch((5, 3), seed=0)
batch['data_samples'][1].gt_label[1] = -1   # one unlabelled utterance
data = model.data_preprocessor(copy.deepcopy(batch), False)
labels = [s.gt_label.clone() for s in batch['data_samples']]
model.eval()
with torch.no_grad():
    tensor_out = model(**copy.deepcopy(data), mode='tensor')
    eval_loss = model(**copy.deepcopy(data), mode='loss')
    preds = model(**copy.deepcopy(data), mode='predict')
model.train()
torch.manual_seed(123)
with torch.no_grad():
    train_loss = {}
    for step in range(3):
        out = model(**copy.deepcopy(data), mode='loss')
        train_loss.update({f'{k}_{step}': v for k, v in out.items()})
ref = dict(


    inputs=dict(feats=data['inputs']['feats'], mask=data['inputs']['mask'],
                speakers=data['inputs']['speakers'], labels=labels),
    tensor=tensor_out, eval_loss=eval_loss, train_loss=train_loss,
    pred_score=[s.pred_score for s in preds])
ckpt = dict(meta=dict(dataset_meta=dict(classes=['a', 'b', 'c', 'd'])),
            state_dict=model.state_dict())
torch.save(ref, 'tests/data/reference_outputs.pt')
torch.save(ckpt, 'tests/data/legacy_checkpoint.pth')
print({k: v.shape for k, v in tensor_out.items()}, eval_loss, list(train_loss)[:4])
