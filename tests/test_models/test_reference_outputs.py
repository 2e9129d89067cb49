"""The same weights and inputs give the same outputs as the reference code.

``tests/data/legacy_checkpoint.pth`` and ``tests/data/reference_outputs.pt`` were written
by ``tests/data/make_reference.py`` with the code of commit ea28674 (the published
maths, before the code was reshaped): a tiny three-modality VEGA model in that code's
checkpoint layout, one batch with padding and an unlabelled utterance, and every output.
Loading the old checkpoint into today's model must reproduce every branch logit, every
loss in eval mode and, from the same seed, in train mode (dropout, anchor sampling).
"""
import copy
import os.path as osp

import pytest
import torch
from mmengine.runner import load_checkpoint

from vega_mm.registry import MODELS
from tests.model_utils import model_cfg

DATA = osp.join(osp.dirname(osp.dirname(__file__)), 'data')


def _reference():
    return torch.load(osp.join(DATA, 'reference_outputs.pt'), weights_only=True)


def _model():
    model = MODELS.build(model_cfg())
    load_checkpoint(model, osp.join(DATA, 'legacy_checkpoint.pth'), map_location='cpu',
                    strict=True)
    return model


def _data(ref):
    from vega_mm.structures import ConversationDataSample
    samples = []
    for i, labels in enumerate(ref['inputs']['labels']):
        s = ConversationDataSample(metainfo=dict(dialogue_id=f'd{i}'))
        s.set_gt_label(labels.clone())
        samples.append(s)
    inputs = {k: copy.deepcopy(ref['inputs'][k]) for k in ('feats', 'mask', 'speakers')}
    return dict(inputs=inputs, data_samples=samples)


def _assert_same(actual: dict, expected: dict, mask=None) -> None:
    """``mask``: the reference's padded [B, L, C] outputs -> the real utterances' rows
    (today's layout)."""
    assert set(actual) == set(expected)
    for key in expected:
        want = expected[key] if mask is None else expected[key][mask]
        torch.testing.assert_close(actual[key], want, rtol=1e-5, atol=1e-5,
                                   msg=lambda m, key=key: f'{key}: {m}')


def test_eval_outputs_equal_the_reference():
    ref, model = _reference(), _model().eval()
    with torch.no_grad():
        _assert_same(model(**_data(ref), mode='tensor'), ref['tensor'], ref['inputs']['mask'])
        _assert_same(model(**_data(ref), mode='loss'), ref['eval_loss'])
        preds = model(**_data(ref), mode='predict')
    for sample, score in zip(preds, ref['pred_score']):
        torch.testing.assert_close(sample.pred_score, score, rtol=1e-5, atol=1e-5)


def _torch_before(major: int, minor: int) -> bool:
    return tuple(int(x) for x in torch.__version__.split('.')[:2]) < (major, minor)


# torch.manual_seed(0); F.dropout(torch.ones(12), 0.5) keeps other elements on PyTorch
# 2.1 than on 2.14, so seeded training losses are comparable only within versions whose
# dropout draws the same stream; the eval-mode outputs above use no random numbers.
@pytest.mark.skipif(_torch_before(2, 2), reason='the seeded train-mode losses were '
                    'recorded with a PyTorch whose dropout draws another random stream '
                    'than this one (< 2.2)')
def test_train_mode_losses_equal_the_reference_from_the_same_seed():
    ref, model = _reference(), _model().train()
    torch.manual_seed(123)
    out = {}
    with torch.no_grad():
        for step in range(3):
            losses = model(**_data(ref), mode='loss')
            out.update({f'{k}_{step}': v for k, v in losses.items()})
    _assert_same(out, ref['train_loss'])


def test_init_model_loads_an_old_checkpoint_without_the_anchor_file(tmp_path):
    """``init_model`` builds the anchor bank from the checkpoint's shapes: the config may
    name an anchor file that does not exist where the model is used."""
    from mmengine.config import Config

    from vega_mm.apis import init_model
    cfg = dict(model=model_cfg(), default_scope='vega_mm')
    cfg['model']['head']['vega_head']['anchor_bank'] = dict(
        type='AnchorBank', anchor_file=str(tmp_path / 'not_here.pt'), dim=None)
    model = init_model(Config(cfg), osp.join(DATA, 'legacy_checkpoint.pth'))
    assert model.anchor_head.anchor_bank.dim == 8
    ref = _reference()
    with torch.no_grad():
        _assert_same(model(**_data(ref), mode='tensor'), ref['tensor'], ref['inputs']['mask'])


# ---------------------------------------------------------------- the default path
# ``tests/data/reference_default_path.pt``: the default path of the configs
# (FusedSDTBackbone, fast dropout masks) on the same tiny model, written with the code
# before the classifier got its one composite head (commit 9c76ad5; the two-slot
# layout ``head.`` + ``vega_head.``): its state dict, eval outputs and losses, train-mode
# losses from a seed and the gradient norm of every parameter after one backward pass.


def _default_path():
    saved = torch.load(osp.join(DATA, 'reference_default_path.pt'), weights_only=True)
    cfg = model_cfg()
    cfg['backbone']['type'] = 'FusedSDTBackbone'
    cfg['fast_dropout'] = True
    model = MODELS.build(cfg)
    model.load_state_dict(saved['state_dict'], strict=True)
    return saved['ref'], model


def test_the_same_seed_builds_the_same_initial_weights_as_the_earlier_code():
    """Building draws the initial weights in the earlier code's order (so a seeded
    training run starts where it started)."""
    from vega_mm.models.legacy import _TWO_HEAD_SLOTS, rename_keys
    saved = dict(torch.load(osp.join(DATA, 'reference_default_path.pt'),
                            weights_only=True)['state_dict'])
    rename_keys(saved, '', _TWO_HEAD_SLOTS)
    cfg = model_cfg()
    cfg['backbone']['type'] = 'FusedSDTBackbone'
    cfg['fast_dropout'] = True
    torch.manual_seed(0)
    state = MODELS.build(cfg).state_dict()
    assert list(state) == list(saved)
    for key, value in saved.items():
        torch.testing.assert_close(state[key], value, rtol=0, atol=0, msg=key)


def test_default_path_outputs_losses_and_gradients_equal_the_earlier_code():
    from vega_mm.models.legacy import _TWO_HEAD_SLOTS, rename_keys
    ref, model = _default_path()
    model.eval()
    with torch.no_grad():
        _assert_same(model(**_data(ref), mode='tensor'), ref['tensor'])
        _assert_same(model(**_data(ref), mode='loss'), ref['eval_loss'])
        preds = model(**_data(ref), mode='predict')
    for sample, score in zip(preds, ref['pred_score']):
        torch.testing.assert_close(sample.pred_score, score, rtol=1e-6, atol=1e-6)
    model.train()
    torch.manual_seed(123)
    out = {}
    with torch.no_grad():
        for step in range(3):
            out.update({f'{k}_{step}': v for k, v in model(**_data(ref), mode='loss').items()})
    _assert_same(out, ref['train_loss'])
    torch.manual_seed(7)
    sum(model(**_data(ref), mode='loss').values()).backward()
    norms = dict(ref['grad_norms'])
    rename_keys(norms, '', _TWO_HEAD_SLOTS)  # the parameters' names of today's layout
    grads = {k: p.grad.norm() for k, p in model.named_parameters() if p.grad is not None}
    _assert_same(grads, norms)
