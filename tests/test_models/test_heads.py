import pytest
import torch
import torch.nn.functional as F
from mmpretrain.structures import DataSample

from vega_mm.models import LabelHead, VEGAHead
from vega_mm.structures import ConversationDataSample

BRANCHES = ('fused', 'text', 'audio')


def _feats(n=7, h=16, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return {b: torch.randn(n, h, generator=gen) for b in BRANCHES}


def _vega(**kw):
    cfg = dict(num_classes=3, in_channels=16, branches=BRANCHES, proj_dropout=0.0,
               anchor_bank=dict(dim=8, random_anchors=True),
               loss=dict(branch_weights=dict(fused=1.0, text=0.5, audio=0.5),
                         kd_loss_weight=0.5, kd_weights=dict(text=1.0, audio=1.0)))
    cfg.update(kw)
    return VEGAHead(**cfg)


def _dialogue(labels):
    """One conversation data sample holding the labels of every row."""
    return [ConversationDataSample().set_gt_label(torch.tensor(labels))]


def test_label_head_losses_and_kd_scale():
    head = LabelHead(num_classes=3, in_channels=16, branches=BRANCHES,
                     loss=dict(branch_weights=dict(fused=1, text=1, audio=1), loss_weight=0.9,
                               kd_loss_weight=0.3, kd_weights=dict(text=1.0, audio=0.5))
                     ).eval()
    samples = _dialogue([0, 1, 2, 0, -1, 1, 2])
    losses = head.loss(_feats(), samples)
    assert set(losses) == {'loss_cls', 'loss_kd'}
    assert losses['loss_kd'] > 0
    # VEGA's label-space losses, by hand: CE of every branch over the labelled rows, and
    # KL(fused || branch) at the initial temperature T = 2, averaged over every row and
    # class (as the published code), times T^2
    target = torch.tensor([0, 1, 2, 0, -1, 1, 2])
    logits = head(_feats())
    labelled = target >= 0
    ce = sum(F.cross_entropy(logits[b][labelled], target[labelled]) for b in BRANCHES)
    torch.testing.assert_close(losses['loss_cls'], 0.9 * ce)
    t = 2.0
    log_teacher = F.log_softmax(logits['fused'] / t, -1)

    def kl(student):
        log_student = F.log_softmax(logits[student] / t, -1)
        return (log_teacher.exp() * (log_teacher - log_student)).mean() * t * t

    torch.testing.assert_close(losses['loss_kd'], 0.3 * (1.0 * kl('text') + 0.5 * kl('audio')))
    head.loss_module.kd_scale = 0.0
    assert float(head.loss(_feats(), samples)['loss_kd']) == 0.0
    assert set(head.loss_module.temperatures()) == {'text', 'audio'}


def test_loss_arguments_live_in_the_loss_config():
    with pytest.raises(TypeError, match='loss_weight'):
        LabelHead(num_classes=3, in_channels=4, loss_weight=0.5, kd_weights=dict(text=1))
    # the loss module's branches are the head's
    head = LabelHead(num_classes=3, in_channels=4, branches=('fused', 'text'))
    assert head.loss_module.branches == ('fused', 'text')
    with pytest.raises(ValueError, match=r'LabelHead.loss.branches=.*contradicts'):
        LabelHead(num_classes=3, in_channels=4, branches=('fused', ),
                  loss=dict(branches=('fused', 'text')))


def test_branch_weights_must_cover_branches():
    with pytest.raises(ValueError, match=r"no weight for \['audio'\]"):
        LabelHead(num_classes=3, in_channels=4, branches=BRANCHES,
                  loss=dict(branch_weights=dict(fused=1, text=1)))
    # weights of branches the model does not have are ignored (text-only reuse)
    LabelHead(num_classes=3, in_channels=4, branches=('fused', 'text'),
              loss=dict(branch_weights=dict(fused=1, text=1, audio=1, visual=1)))


def test_vega_logits_are_scaled_cosines_to_the_centres():
    head = _vega().eval()
    feats = _feats()
    logits = head(feats)
    anchors = F.normalize(head.anchor_bank.centers, dim=-1)
    for b in BRANCHES:
        z = F.normalize(head.projections[b](feats[b]), dim=-1)
        torch.testing.assert_close(logits[b], 100.0 * z @ anchors.t())
        assert logits[b].abs().max() <= 100.0 + 1e-4


def test_vega_losses_reach_projections_and_temperatures():
    head = _vega().train()
    losses = head.loss(_feats(), _dialogue([0, 1, 2, 0, 1, 2, 0]))
    assert set(losses) == {'loss_anc', 'loss_akd'}
    sum(losses.values()).backward()
    for b in BRANCHES:
        assert head.projections[b][0].weight.grad.abs().sum() > 0
    assert head.loss_module.kd_loss.log_temperature['text'].grad is not None
    assert not head.anchor_bank.centers.requires_grad  # anchors are fixed


def test_vega_head_as_mmpretrain_head():
    head = _vega(branches=('fused', ), loss=None)
    feats = (torch.randn(4, 16), )
    samples = [DataSample().set_gt_label(i % 3) for i in range(4)]
    losses = head.loss(feats, samples)
    assert set(losses) == {'loss_anc'} and losses['loss_anc'] > 0
    preds = head.predict(feats, [DataSample() for _ in range(4)])
    assert len(preds) == 4
    assert preds[0].pred_score.shape == (3, )
    torch.testing.assert_close(preds[0].pred_score.sum(), torch.tensor(1.0))


def test_vega_head_rejects_mismatched_anchor_bank():
    from vega_mm.models import AnchorBank
    with pytest.raises(ValueError, match='anchor bank has 4 classes'):
        VEGAHead(num_classes=3, in_channels=8,
                 anchor_bank=AnchorBank(num_classes=4, dim=4, random_anchors=True))


def test_the_new_head_example_of_internals_md_trains_in_the_conversation_model():
    """docs/internals.md shows how to add a head: its code, run as it is, gives a head
    that the conversation model fills, trains and predicts with, alone and as VEGA's
    label space."""
    import os.path as osp
    import re

    from tests.model_utils import make_batch, model_cfg
    from vega_mm.registry import MODELS
    doc = open(osp.join(osp.dirname(__file__), '..', '..', 'docs', 'internals.md')).read()
    code = [c for c in re.findall(r'```python\n(.*?)```', doc, re.S) if 'class CosineHead' in c]
    assert len(code) == 1
    if MODELS.get('CosineHead') is None:
        exec(compile(code[0], 'docs/internals.md', 'exec'), {})
    for cfg in (model_cfg(vega=False), model_cfg()):
        if 'label_head' in cfg['head']:
            cfg['head']['label_head'] = dict(type='CosineHead')
        else:
            cfg['head'] = dict(type='CosineHead')
        torch.manual_seed(0)
        model = MODELS.build(cfg)
        head = model.head.label_head if 'label_head' in cfg['head'] else model.head
        assert head.branches == ('fused', 'text', 'audio', 'visual')
        assert head.num_classes == 4 and head.in_channels == 16
        batch = model.data_preprocessor(make_batch((6, 4)), True)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        losses = []
        for _ in range(20):
            loss = sum(model(**batch, mode='loss').values())
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss))
        assert losses[-1] < 0.7 * losses[0]
        preds = model.eval()(**batch, mode='predict')
        assert [p.pred_score.shape for p in preds] == [(6, 4), (4, 4)]
