from types import SimpleNamespace

import pytest
import torch

from vega_mm.engine import SelfDistillationHook


class _Head(torch.nn.Module):
    kd_scale = 1.0

    def temperatures(self):
        return {'text': 2.0}


class _Model(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.a, self.b = _Head(), _Head()


class _Hub:
    def __init__(self):
        self.scalars = {}

    def update_scalar(self, k, v):
        self.scalars[k] = v


def _runner(epoch=0, it=0, per_epoch=10):
    return SimpleNamespace(model=_Model(), epoch=epoch, iter=it,
                           train_dataloader=list(range(per_epoch)), message_hub=_Hub())


def test_distillation_ramp_by_iterations_and_epochs():
    hook = SelfDistillationHook(warmup_iters=10)
    runner = _runner(it=5)
    hook.before_train_iter(runner, 0)
    assert runner.model.a.kd_scale == pytest.approx(0.5)
    assert runner.model.b.kd_scale == pytest.approx(0.5)
    assert hook.factor(_runner(it=0), 0) == 0.0
    assert hook.factor(_runner(it=50), 0) == 1.0
    by_epoch = SelfDistillationHook(warmup_epochs=2)
    assert by_epoch.factor(_runner(epoch=1), batch_idx=5) == pytest.approx(0.75)
    assert by_epoch.factor(_runner(epoch=3), batch_idx=0) == 1.0
    assert SelfDistillationHook().factor(_runner(), 0) == 1.0


def test_distillation_hook_logs_temperatures():
    hook = SelfDistillationHook(warmup_iters=4)
    runner = _runner(it=1)
    hook.before_train_iter(runner, 0)
    hook.after_train_iter(runner, 0)
    assert runner.message_hub.scalars['train/T_a_text'] == 2.0
    assert runner.message_hub.scalars['train/T_b_text'] == 2.0
    assert runner.message_hub.scalars['train/kd_scale_a'] == pytest.approx(0.25)


def test_distillation_hook_rejects_bad_config():
    with pytest.raises(ValueError):
        SelfDistillationHook(warmup_epochs=1, warmup_iters=5)
    with pytest.raises(ValueError):
        SelfDistillationHook(warmup_iters=-1)
