"""AtomicCheckpointHook and the atomic file backend: a failed save loses nothing."""
import errno
import os

import pytest
from mmengine.config import Config

from tests.test_tools.common import write_tiny_config
from vega_mm.engine import build_runner
from vega_mm.utils import checkpoint as ckpt_utils
from vega_mm.utils.checkpoint import CheckpointError, checkpoint_problem


def _full_disk_after(monkeypatch, allowed_saves):
    """Make every write after ``allowed_saves`` successful ones fail like a full disk."""
    real = os.fsync
    count = {'n': 0}

    def fsync(fd):
        count['n'] += 1
        if count['n'] > allowed_saves:
            raise OSError(errno.ENOSPC, 'No space left on device')
        return real(fd)
    monkeypatch.setattr(os, 'fsync', fsync)


def test_backend_write_on_full_disk_keeps_old_file_and_leaves_no_temp(tmp_path, monkeypatch):
    from mmengine.fileio import get_file_backend
    backend = get_file_backend(str(tmp_path), backend_args=dict(
        backend=ckpt_utils.register_atomic_backend()))
    target = tmp_path / 'epoch_1.pth'
    backend.put(b'old complete checkpoint', target)
    _full_disk_after(monkeypatch, 0)
    with pytest.raises(CheckpointError, match=r"epoch_1\.pth.*the disk is full"):
        backend.put(b'x' * 1000, target)
    assert target.read_bytes() == b'old complete checkpoint'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['epoch_1.pth']


def test_failed_save_during_training_keeps_the_previous_checkpoints(tmp_path, monkeypatch):
    cfg = Config.fromfile(str(write_tiny_config(tmp_path, epochs=3)))
    cfg.work_dir = str(tmp_path / 'work')
    runner = build_runner(cfg)
    # epoch 1 writes epoch_1.pth, best_*_epoch_1.pth and epoch_1.pth again (best
    # score recorded): the fourth write, in epoch 2, finds the disk full
    _full_disk_after(monkeypatch, 3)
    with pytest.raises(CheckpointError, match='the disk is full'):
        runner.train()
    work = tmp_path / 'work'
    pths = sorted(p.name for p in work.glob('*.pth'))
    assert 'epoch_1.pth' in pths and not any(n.startswith('.') for n in os.listdir(work))
    for name in pths:  # every file that looks like a checkpoint is one
        assert checkpoint_problem(str(work / name)) is None, name
    assert (work / 'last_checkpoint').read_text().endswith('epoch_1.pth')


def test_successful_run_keeps_one_last_and_one_best_checkpoint(tmp_path):
    cfg = Config.fromfile(str(write_tiny_config(tmp_path, epochs=3)))
    cfg.work_dir = str(tmp_path / 'work')
    build_runner(cfg).train()
    work = tmp_path / 'work'
    names = sorted(p.name for p in work.glob('*.pth'))
    assert 'epoch_3.pth' in names and len(names) == 2, names
    assert [n for n in names if n.startswith('best_')]
    assert not [n for n in os.listdir(work) if n.endswith('.tmp')]
