"""VEGA heads inside mmpretrain models: ``VEGAHead`` and ``DualBranchHead`` on tuples of
features with ``DataSample``s, mmpretrain's metrics on their predictions, and an
``ImageClassifier`` built from a config with either head."""
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from mmengine.evaluator import Evaluator
from mmengine.registry import DefaultScope
from mmpretrain.evaluation import Accuracy, SingleLabelMetric
from mmpretrain.structures import DataSample

from vega_mm.anchors.io import save_anchor_file
from vega_mm.engine.hooks import SelfDistillationHook
from vega_mm.models import AnchorBank, DualBranchHead, VEGAHead
from vega_mm.registry import MODELS

C, H = 3, 16
FILE_CLASSES = ['happy', 'sad', 'angry']    # the anchor file's order
DATASET_CLASSES = ('angry', 'joy', 'sad')   # the dataset's order ('joy' == 'happy')


@pytest.fixture
def anchor_file(tmp_path):
    """A 24-d anchor file whose classes are in another order than the dataset's."""
    gen = torch.Generator().manual_seed(0)
    banks = [F.normalize(torch.randn(k, 24, generator=gen), dim=-1) for k in (3, 4, 5)]
    path = tmp_path / 'anchors.pt'
    save_anchor_file(str(path), FILE_CLASSES, banks)
    return path, banks


def _random_bank(**kw):
    return dict(type='AnchorBank', dim=8, random_anchors=True, **kw)


def _samples(labels):
    return [DataSample().set_gt_label(int(y)) for y in labels]


def _first(logits):
    """The logits a head predicts with by default (VEGAHead: its branch; DualBranchHead:
    the label space of its branch)."""
    return logits['fused']


def _feats(n=6, seed=0):
    """Two 'stages' like a backbone's output: heads must use the last one."""
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 4, 2, 2, generator=gen), torch.randn(n, H, generator=gen))


# ----------------------------------------------------------------- VEGAHead
def test_vega_head_takes_an_anchor_file_path(anchor_file):
    path, banks = anchor_file
    head = VEGAHead(num_classes=C, in_channels=H, anchors=str(path),
                    class_names=DATASET_CLASSES, sample_prob=0.25)
    bank = head.anchor_bank
    assert bank.dim == 24 and bank.sample_prob == 0.25  # dimension read from the file
    assert head.projections['fused'][-1].out_features == 24
    # anchors reordered by name to the dataset's classes (joy -> happy)
    for row, name in enumerate(['angry', 'happy', 'sad']):
        torch.testing.assert_close(bank.centers[row], banks[FILE_CLASSES.index(name)].mean(0))


def test_vega_head_anchor_arguments_are_checked(anchor_file):
    path, _ = anchor_file
    with pytest.raises(ValueError, match='not both'):
        VEGAHead(num_classes=C, in_channels=H, anchors=str(path), anchor_bank=_random_bank())
    with pytest.raises(ValueError, match='needs anchors'):
        VEGAHead(num_classes=C, in_channels=H)
    with pytest.raises(ValueError, match=r'anchor_bank.sample_prob=0.4 contradicts '
                                         r'VEGAHead.sample_prob=0.1'):
        VEGAHead(num_classes=C, in_channels=H, anchor_bank=_random_bank(sample_prob=0.4),
                 sample_prob=0.1)
    with pytest.raises(ValueError, match='already built'):
        VEGAHead(num_classes=C, in_channels=H, class_names=DATASET_CLASSES,
                 anchor_bank=AnchorBank(num_classes=C, dim=8, random_anchors=True))
    with pytest.raises(ValueError, match='holds 24-d anchors but the model expects dim=512'):
        VEGAHead(num_classes=C, in_channels=H, anchors=str(path), anchor_dim=512,
                 class_names=DATASET_CLASSES)
    with pytest.raises(KeyError, match=r"no anchors for class\(es\) \['fear'\]"):
        VEGAHead(num_classes=C, in_channels=H, anchors=str(path),
                 class_names=('angry', 'fear', 'sad'))
    # the same keyword in both forms: allowed when the values agree
    head = VEGAHead(num_classes=C, in_channels=H, anchor_bank=_random_bank(sample_prob=0.3),
                    sample_prob=0.3)
    assert head.anchor_bank.sample_prob == 0.3


def test_vega_head_loss_and_predict_on_a_feature_tuple():
    # sample_prob=0: centres in training too, so train and eval logits agree
    head = VEGAHead(num_classes=C, in_channels=H, anchor_bank=_random_bank(sample_prob=0.0),
                    proj_dropout=0.0, cal_acc=True)
    feats, labels = _feats(), torch.tensor([0, 1, 2, 0, 1, 2])
    losses = head.train().loss(feats, _samples(labels))
    assert set(losses) == {'loss_anc', 'accuracy_top-1'}
    losses['loss_anc'].backward()
    assert head.projections['fused'][0].weight.grad.abs().sum() > 0
    assert not head.anchor_bank.centers.requires_grad

    head.eval()
    z = F.normalize(head.projections['fused'](feats[-1]), dim=-1)
    expected = 100.0 * z @ F.normalize(head.anchor_bank.centers, dim=-1).t()
    with torch.no_grad():
        preds = head.predict(feats, _samples(labels))
    assert [int(p.gt_label) for p in preds] == labels.tolist()  # inputs kept
    torch.testing.assert_close(torch.stack([p.pred_score for p in preds]),
                               expected.softmax(-1))
    assert [int(p.pred_label) for p in preds] == expected.argmax(-1).tolist()
    # training accuracy of the batch, in %, as mmpretrain heads log it
    with torch.no_grad():
        acc = head.train().loss(feats, _samples(expected.argmax(-1)))['accuracy_top-1']
    assert float(acc) == pytest.approx(100.0)


def test_vega_head_rejects_soft_labels():
    head = VEGAHead(num_classes=C, in_channels=H, anchor_bank=_random_bank())
    samples = [DataSample().set_gt_score(torch.tensor([0.5, 0.5, 0.0])) for _ in range(6)]
    with pytest.raises(ValueError, match='soft labels'):
        head.loss(_feats(), samples)


@pytest.mark.parametrize('head_type', ['VEGAHead', 'DualBranchHead'])
def test_mmpretrain_metrics_read_the_head_predictions(head_type):
    head = MODELS.build(dict(type=head_type, num_classes=C, in_channels=H,
                             anchor_bank=_random_bank())).eval()
    feats = (torch.randn(10, H), )
    with torch.no_grad():
        pred = head.predict(feats)
    predicted = torch.cat([p.pred_label for p in pred])
    # the first 7 labels right, the last 3 wrong: 70% accuracy
    gt = torch.cat([predicted[:7], (predicted[7:] + 1) % C])
    samples = head.predict(feats, _samples(gt))
    # what the Runner's ValLoop does with the outputs of model.val_step
    evaluator = Evaluator([Accuracy(topk=(1, )), SingleLabelMetric(num_classes=C)])
    evaluator.process(data_samples=samples, data_batch=None)
    metrics = evaluator.evaluate(len(samples))
    assert metrics['accuracy/top1'] == pytest.approx(70.0)
    recall = [float((predicted[gt == c] == c).float().mean()) for c in gt.unique()]
    assert metrics['single-label/recall'] == pytest.approx(
        100.0 * sum(recall) / C, abs=1e-3)


# ----------------------------------------------------------------- DualBranchHead
def _dual(**kw):
    cfg = dict(num_classes=C, in_channels=H, anchor_bank=_random_bank(),
               vega_head=dict(proj_dropout=0.0), label_head=dict(dropout=0.0))
    cfg.update(kw)
    return DualBranchHead(**cfg)


@pytest.mark.parametrize('distill,students', [('mutual', {'anchor', 'label'}),
                                              ('label_to_anchor', {'anchor'}),
                                              ('anchor_to_label', {'label'}),
                                              (None, set())])
def test_dual_head_losses(distill, students):
    head = _dual(distill=distill, kd_loss_weight=0.5).train()
    losses = head.loss(_feats(), _samples([0, 1, 2, 0, 1, 2]))
    expected = {'loss_cls', 'loss_anc'} | ({'loss_kd'} if students else set())
    assert set(losses) == expected
    assert set(head.temperatures()) == students
    if students:
        assert float(losses['loss_kd'].detach()) > 0
        sum(losses.values()).backward()
        for s in students:
            assert head.kd_loss.log_temperature[s].grad is not None


def test_dual_head_distillation_direction_and_scale():
    torch.manual_seed(0)
    head = _dual(distill='label_to_anchor', detach_teacher=True,
                 anchor_bank=_random_bank(sample_prob=0.0)).train()
    feats = _feats()
    logits = head(feats)
    kd = head.distillation(logits)
    kd.backward()
    # the anchor branch learns from the label branch, not the other way round
    assert head.vega_head.projections['fused'][0].weight.grad.abs().sum() > 0
    assert head.label_head.classifiers['fused'][0].weight.grad is None
    # the value is LearnedTemperatureKDLoss's: KL(p_label/T || p_anchor/T) * T^2, T=2
    t = 2.0
    manual = F.kl_div(F.log_softmax(logits['anchor_fused'] / t, -1),
                      F.softmax(logits['fused'] / t, -1), reduction='none').mean() * t * t
    torch.testing.assert_close(kd, manual)
    samples = _samples([0, 1, 2, 0, 1, 2])
    with torch.no_grad():
        full = float(head.loss(feats, samples)['loss_kd'])
        head.kd_scale = 0.25
        assert float(head.loss(feats, samples)['loss_kd']) == pytest.approx(0.25 * full)


@pytest.mark.parametrize('mode', ['label', 'anchor', 'mean'])
def test_dual_head_predicts_with_the_chosen_branch(mode):
    head = _dual(predict_with=mode).eval()
    feats = _feats()
    with torch.no_grad():
        logits = head(feats)
        preds = head.predict(feats)
    p_label, p_anchor = logits['fused'].softmax(-1), logits['anchor_fused'].softmax(-1)
    expected = dict(label=p_label, anchor=p_anchor, mean=(p_label + p_anchor) / 2)[mode]
    scores = torch.stack([p.pred_score for p in preds])
    torch.testing.assert_close(scores, expected)
    assert [int(p.pred_label) for p in preds] == expected.argmax(-1).tolist()


def test_dual_head_with_an_mmpretrain_label_head():
    head = _dual(label_head=dict(type='LinearClsHead'), class_weight=[1.0, 2.0, 3.0])
    assert type(head.label_head).__name__ == 'LinearClsHead'
    assert head.label_head.fc.in_features == H and head.label_head.fc.out_features == C
    feats, labels = _feats(), torch.tensor([0, 1, 2, 0, 1, 2])
    losses = head.train().loss(feats, _samples(labels))
    assert {'loss_cls', 'loss_anc', 'loss_kd'} == set(losses)
    # the mmpretrain head keeps its own loss (plain CE); VEGA gets the class weights
    torch.testing.assert_close(losses['loss_cls'],
                               F.cross_entropy(head(feats)['fused'], labels))
    torch.testing.assert_close(head.vega_head.loss_module.ce_loss.class_weight,
                               torch.tensor([1.0, 2.0, 3.0]))


def test_dual_head_rejects_bad_arguments(anchor_file):
    with pytest.raises(ValueError, match='distill must be one of'):
        _dual(distill='sideways')
    with pytest.raises(ValueError, match='predict_with must be one of'):
        _dual(predict_with='vote')
    with pytest.raises(ValueError, match=r'vega_head.anchors=.*contradicts '
                                         r'DualBranchHead.anchors='):
        _dual(anchors=str(anchor_file[0]), anchor_bank=None,
              vega_head=dict(anchors='other.pt'))
    with pytest.raises(ValueError, match=r'vega_head.branches=.*contradicts '
                                         r'DualBranchHead.branches'):
        _dual(vega_head=dict(branches=('fused', 'text')))
    with pytest.raises(ValueError, match='an mmpretrain label head reads one feature'):
        _dual(branches=('fused', 'text'), label_head=dict(type='LinearClsHead'))
    with pytest.raises(KeyError, match='not registered'):
        _dual(label_head=dict(type='NoSuchHead'))


# ----------------------------------------------------------------- in an ImageClassifier
def _image_classifier(head: dict):
    cfg = dict(type='ImageClassifier',
               data_preprocessor=dict(type='ClsDataPreprocessor', num_classes=C,
                                      mean=[127.5] * 3, std=[127.5] * 3),
               backbone=dict(type='ResNet', depth=18, out_indices=(3, )),
               neck=dict(type='GlobalAveragePooling'),
               head=dict(num_classes=C, in_channels=512, **head))
    with DefaultScope.overwrite_default_scope('vega_mm'):
        return MODELS.build(cfg)


@pytest.mark.parametrize('head', [
    dict(type='VEGAHead', anchor_bank=_random_bank()),
    dict(type='DualBranchHead', anchor_bank=_random_bank(), distill='mutual'),
])
def test_image_classifier_trains_and_predicts_with_vega_heads(head):
    torch.manual_seed(0)
    model = _image_classifier(head)
    batch = dict(inputs=[torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8)
                         for _ in range(4)],
                 data_samples=_samples([0, 1, 2, 1]))
    optim = torch.optim.SGD(model.parameters(), lr=0.01)
    from mmengine.optim import OptimWrapper
    log = model.train_step(batch, OptimWrapper(optim))
    assert 'loss_anc' in log and torch.isfinite(log['loss'])
    assert all(m.kd_scale == 1.0 for m in model.modules() if hasattr(m, 'kd_scale'))
    out = model.val_step(batch)
    assert len(out) == 4 and all(isinstance(s, DataSample) for s in out)
    assert out[0].pred_score.shape == (C, ) and out[0].gt_label.tolist() == [0]


def test_self_distillation_hook_ramps_the_dual_head():
    model = _image_classifier(dict(type='DualBranchHead', anchor_bank=_random_bank()))
    hook = SelfDistillationHook(warmup_iters=10)
    runner = SimpleNamespace(model=model, iter=5, epoch=0)
    assert model.head in [m for _, m in hook._heads(runner)]
    hook.before_train_iter(runner, batch_idx=5)
    assert model.head.kd_scale == pytest.approx(0.5)


# ----------------------------------------------------------------- mmaction2-style calls
@pytest.mark.parametrize('head_type', ['VEGAHead', 'DualBranchHead'])
def test_heads_take_mmaction2_recognizer_features(head_type):
    """Recognizer2D passes a tensor [N * num_segs, H, h, w] and ``num_segs``;
    Recognizer3D [N * views, H, T, h, w], and N data samples in ``predict``."""
    head = MODELS.build(dict(type=head_type, num_classes=C, in_channels=H,
                             anchor_bank=_random_bank())).eval()
    n, segs = 2, 3
    maps = torch.randn(n * segs, H, 2, 2)
    pooled = maps.mean((2, 3)).reshape(n, segs, H).mean(1)  # spatial, then segments
    labels = torch.tensor([0, 2])
    losses = head.train().loss(maps, _samples(labels), num_segs=segs)
    assert 'loss_anc' in losses and torch.isfinite(losses['loss_anc'])
    head.eval()
    with torch.no_grad():
        got = head.predict(maps, _samples(labels), num_segs=segs, fcn_test=False)
        want = head.predict((pooled, ), _samples(labels))
    torch.testing.assert_close(torch.stack([p.pred_score for p in got]),
                               torch.stack([p.pred_score for p in want]))
    # 3D: 4 views per sample, their probabilities averaged
    clips = torch.randn(n * 4, H, 2, 2, 2)
    with torch.no_grad():
        got = head.predict(clips, _samples(labels))
        per_view = _first(head((clips.flatten(2).mean(-1), ))).softmax(-1)
    assert len(got) == n
    torch.testing.assert_close(torch.stack([p.pred_score for p in got]),
                               per_view.reshape(n, 4, C).mean(1))
    with pytest.raises(NotImplementedError, match='fcn_test'):
        head.predict(maps, _samples(labels), num_segs=segs, fcn_test=True)
    with pytest.raises(ValueError, match='6 feature rows but 2 labels'):
        head.loss(maps, _samples(labels))


def test_heads_build_from_another_openmmlab_scope():
    """An mmaction2 config (default_scope='mmaction') builds the head with
    ``_scope_='vega_mm'``; the root scope stands in for mmaction here."""
    from mmengine.registry import MODELS as ROOT_MODELS
    with DefaultScope.overwrite_default_scope('mmengine'):
        for head_type in (VEGAHead, DualBranchHead):
            head = ROOT_MODELS.build(dict(_scope_='vega_mm', type=head_type.__name__,
                                          num_classes=C, in_channels=H,
                                          anchor_bank=dict(dim=8, random_anchors=True)))
            # built directly (not through a registry) under the foreign scope too
            direct = head_type(num_classes=C, in_channels=H,
                               anchor_bank=dict(dim=8, random_anchors=True))
            assert DefaultScope.get_current_instance().scope_name == 'mmengine'
            for built in (head, direct):
                # the nested anchor bank came from vega_mm's registry, not mmengine's
                bank = (built if head_type is VEGAHead else built.vega_head).anchor_bank
                assert type(built) is head_type and type(bank) is AnchorBank
                assert tuple(bank.centers.shape) == (C, 8)
                # and the head works: finite losses, one distribution per sample
                losses = built.train().loss(_feats(), _samples([0, 1, 2, 0, 1, 2]))
                assert losses and all(torch.isfinite(v).all() for v in losses.values())
                with torch.no_grad():
                    preds = built.eval().predict(_feats(), _samples([0, 1, 2, 0, 1, 2]))
                scores = torch.stack([p.pred_score for p in preds])
                assert scores.shape == (6, C)
                torch.testing.assert_close(scores.sum(-1), torch.ones(6))


def test_heads_refuse_feature_layouts_they_cannot_pool():
    head = VEGAHead(num_classes=C, in_channels=H, anchor_bank=_random_bank())
    with pytest.raises(ValueError, match=r'\(2, 5, 16\) are ambiguous'):
        head((torch.randn(2, 5, H), ))  # tokens [N, L, H]: needs a neck
    with pytest.raises(ValueError, match='features have 2 channels .* in_channels=16'):
        head(torch.randn(3, 2, H, 4, 5))  # skeleton features [N, M, H, T, V]
    # no neck needed for channels-first maps: the head pools them
    assert head((torch.randn(3, H, 4, 4), ))['fused'].shape == (3, C)
