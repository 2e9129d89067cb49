import random
from types import SimpleNamespace

import numpy as np
import torch

from vega_mm.engine import EpochSeedHook


def _runner(epoch, seed=3):
    return SimpleNamespace(epoch=epoch, seed=seed)


def _draw():
    return (random.random(), float(np.random.rand()), float(torch.rand(())))


def test_epoch_seed_depends_only_on_seed_and_epoch():
    hook = EpochSeedHook()
    hook.before_train_epoch(_runner(epoch=2))
    first = _draw()
    _draw()  # whatever ran in between
    hook.before_train_epoch(_runner(epoch=2))
    assert _draw() == first
    hook.before_train_epoch(_runner(epoch=3))
    assert _draw() != first
    hook.before_train_epoch(_runner(epoch=2, seed=4))
    assert _draw() != first
