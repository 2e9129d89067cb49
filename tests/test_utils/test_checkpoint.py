import os

import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.runner.checkpoint import _load_checkpoint

from vega_mm.utils import load_runner_checkpoint, register_checkpoint_loader


def test_runner_style_checkpoint_loads_with_message_hub(tmp_path):
    hub = MessageHub.get_instance('checkpoint_test')
    hub.update_scalar('train/loss', 1.5)
    hub.update_info('best_score', 0.7)
    ckpt = dict(meta=dict(epoch=2, seed=64, dataset_meta=dict(classes=('a', 'b'))),
                state_dict={'w': torch.randn(3)}, message_hub=hub.state_dict())
    path = tmp_path / 'epoch_2.pth'
    torch.save(ckpt, path)
    register_checkpoint_loader()  # what vega_mm's runner and init_model do
    loaded = _load_checkpoint(str(path))  # through mmengine's loader scheme
    assert loaded['meta']['epoch'] == 2
    torch.testing.assert_close(loaded['state_dict']['w'], ckpt['state_dict']['w'])
    assert isinstance(loaded['message_hub']['log_scalars']['train/loss'], HistoryBuffer)


class _Evil:
    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (os.system, (f'touch {self.path}', ))


class _EvilGetattr:
    def __reduce__(self):
        # getattr(getattr, '__self__') is the builtins module: a way to reach eval
        return (getattr, (getattr, '__self__'))


@pytest.mark.parametrize('payload', ['system', 'getattr'])
def test_hostile_checkpoint_is_refused_without_running(tmp_path, payload):
    marker = tmp_path / 'pwned'
    evil = _Evil(marker) if payload == 'system' else _EvilGetattr()
    path = tmp_path / 'evil.pth'
    torch.save({'state_dict': {}, 'meta': evil}, path)
    with pytest.raises(RuntimeError, match='evil.pth'):
        load_runner_checkpoint(str(path))
    assert not marker.exists()


def test_missing_checkpoint_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothing.pth'):
        load_runner_checkpoint(str(tmp_path / 'nothing.pth'))
