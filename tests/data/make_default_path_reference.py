"""Made once with the code of commit 9c76ad5 (the default path, FusedSDTBackbone and fast
dropout masks, before the classifier got its one composite head); runs only on that commit:
    PYTHONPATH=. python tests/data/make_default_path_reference.py tests/data/reference_default_path.pt
"""
import copy, sys, torch
from mmengine.registry import init_default_scope
import vega_mm  # noqa
from vega_mm.registry import MODELS
from tests.model_utils import make_batch, model_cfg
init_default_scope('vega_mm')
cfg = model_cfg()
cfg['backbone']['type'] = 'FusedSDTBackbone'
cfg['fast_dropout'] = True
torch.manual_seed(0)
model = MODELS.build(cfg)
batch = make_batch((5, 3), seed=0)
batch['data_samples'][1].gt_label[1] = -1
data = model.data_preprocessor(copy.deepcopy(batch), False)
labels = [s.gt_label.clone() for s in batch['data_samples']]
model.eval()
with torch.no_grad():
    tensor_out = model(**copy.deepcopy(data), mode='tensor')
    eval_loss = model(**copy.deepcopy(data), mode='loss')
    preds = model(**copy.deepcopy(data), mode='predict')
model.train()
torch.manual_seed(123)
train_loss = {}
for step in range(3):
    out = model(**copy.deepcopy(data), mode='loss')
    train_loss.update({f'{k}_{step}': v.detach() for k, v in out.items()})
# one optimisation step: gradients too
model.zero_grad()
torch.manual_seed(7)
sum(model(**copy.deepcopy(data), mode='loss').values()).backward()
grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
mask = data['inputs']['mask']
ref = dict(inputs=dict(feats=data['inputs']['feats'], mask=mask,
                       speakers=data['inputs']['speakers'], labels=labels),
           tensor={k: v[mask] for k, v in tensor_out.items()}, eval_loss=eval_loss,
           train_loss=train_loss, grad_norms={k: g.norm() for k, g in grads.items()},
           pred_score=[s.pred_score for s in preds])
torch.save(dict(ref=ref, state_dict=model.state_dict()), sys.argv[1])
print(len(grads), list(train_loss)[:3])
