import math

import torch
import torch.nn.functional as F

from vega_mm.models import LearnedTemperatureKDLoss, WeightedCrossEntropyLoss


def test_weighted_ce_ignores_unlabelled_and_applies_weights():
    logits = torch.randn(6, 3)
    target = torch.tensor([0, 1, -1, 2, 2, -1])
    loss = WeightedCrossEntropyLoss([1.0, 2.0, 0.5])(logits, target)
    keep = target >= 0
    expected = F.cross_entropy(logits[keep], target[keep], weight=torch.tensor([1.0, 2.0, 0.5]))
    torch.testing.assert_close(loss, expected)
    unweighted = WeightedCrossEntropyLoss()(logits, target)
    assert not torch.allclose(loss, unweighted)


def test_weighted_ce_with_no_labels_is_zero_with_grad():
    logits = torch.randn(2, 3, requires_grad=True)
    loss = WeightedCrossEntropyLoss()(logits, torch.tensor([-1, -1]))
    assert float(loss) == 0.0
    loss.backward()


def test_kd_matches_formula_and_learns_temperature():
    teacher, student = torch.randn(5, 4), torch.randn(5, 4)
    kd = LearnedTemperatureKDLoss(['text'], init_temperature=2.0)
    assert math.isclose(kd.temperatures()['text'], 2.0, rel_tol=1e-6)
    loss = kd(teacher, {'text': student}, {'text': 0.5})
    t = 2.0
    p = F.softmax(teacher / t, -1)
    expected = (p * (p.log() - F.log_softmax(student / t, -1))).mean() * t * t * 0.5
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert kd.log_temperature['text'].grad is not None


def test_kd_is_zero_for_identical_distributions_and_zero_weight():
    z = torch.randn(3, 4)
    kd = LearnedTemperatureKDLoss(['text', 'audio'])
    assert float(kd(z, {'text': z.clone(), 'audio': z.clone()}, {'text': 1, 'audio': 1})) < 1e-6
    assert float(kd(z, {'text': torch.randn(3, 4)}, {'text': 0.0})) == 0.0


def test_kd_teacher_gets_gradient_unless_detached():
    teacher = torch.randn(3, 4, requires_grad=True)
    student = torch.randn(3, 4, requires_grad=True)
    LearnedTemperatureKDLoss(['s'])(teacher, {'s': student}, {'s': 1}).backward()
    assert teacher.grad is not None and teacher.grad.abs().sum() > 0
    teacher.grad = None
    LearnedTemperatureKDLoss(['s'], detach_teacher=True)(teacher, {'s': student},
                                                          {'s': 1}).backward()
    assert teacher.grad is None


def test_distillation_gradient_stays_finite_when_a_teacher_probability_underflows():
    """A teacher logit far below the others (softmax underflows to exactly 0 in float32)
    must not give the teacher an infinite gradient: training once turned to NaN there."""
    from vega_mm.models.losses import LearnedTemperatureKDLoss
    kd = LearnedTemperatureKDLoss(('text', ), init_temperature=0.5)
    teacher = torch.tensor([[0.0, 60.0, -60.0]], requires_grad=True)
    student = torch.tensor([[0.1, 50.0, -40.0]], requires_grad=True)
    assert float(torch.softmax(teacher / 0.5, -1)[0, 2]) == 0.0  # the underflow
    loss = kd(teacher, {'text': student}, {'text': 1.0})
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(teacher.grad).all()
    assert torch.isfinite(student.grad).all()
    # and it is the same KL as the probability form
    t = 0.5
    p = torch.softmax(teacher.detach() / t, -1)
    ref = torch.nn.functional.kl_div(torch.log_softmax(student.detach() / t, -1), p,
                                     reduction='none').mean() * t * t
    torch.testing.assert_close(loss.detach(), ref)
