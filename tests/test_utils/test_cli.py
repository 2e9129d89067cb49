"""Shared command-line pieces of tools/train.py and tools/test.py."""
import argparse
import os
import os.path as osp

from mmengine.config import Config

from vega_mm.utils import add_runner_args, default_work_dir, export_local_rank, set_work_dir


def test_work_dir_precedence_argument_then_config_then_default():
    cfg = Config(dict(work_dir='from_cfg'))
    assert set_work_dir(cfg, 'configs/vega/vega_meld.py', 'given') == 'given'
    assert cfg.work_dir == 'given'
    cfg = Config(dict(work_dir='from_cfg'))
    assert set_work_dir(cfg, 'configs/vega/vega_meld.py') == 'from_cfg'
    cfg = Config(dict())
    assert set_work_dir(cfg, 'configs/vega/vega_meld.py') == osp.join('./work_dirs',
                                                                       'vega_meld')
    assert default_work_dir('a/b/sdt_synthetic.py') == osp.join('./work_dirs', 'sdt_synthetic')


def test_runner_args_parse_options_launcher_and_local_rank(monkeypatch):
    parser = argparse.ArgumentParser()
    add_runner_args(parser)
    args = parser.parse_args(['--cfg-options', 'train_cfg.max_epochs=2', 'a.b=x',
                              '--launcher', 'pytorch', '--local-rank', '3'])
    assert args.cfg_options == {'train_cfg.max_epochs': 2, 'a.b': 'x'}
    assert args.launcher == 'pytorch'
    monkeypatch.delenv('LOCAL_RANK', raising=False)
    export_local_rank(args)
    assert os.environ['LOCAL_RANK'] == '3'
    # a launcher's own LOCAL_RANK (torchrun) wins over the argument
    monkeypatch.setenv('LOCAL_RANK', '1')
    export_local_rank(args)
    assert os.environ['LOCAL_RANK'] == '1'


def test_threads_default_to_omp_num_threads_else_one_and_the_flag_wins(monkeypatch):
    import pytest
    import torch

    from vega_mm.utils.cli import set_threads
    before = torch.get_num_threads()
    try:
        monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
        assert set_threads(None) == 1 and torch.get_num_threads() == 1
        assert set_threads(None, default=2) == 2 and torch.get_num_threads() == 2
        monkeypatch.setenv('OMP_NUM_THREADS', '2')
        assert set_threads(None) == 2
        assert set_threads(1) == 1 and torch.get_num_threads() == 1
        with pytest.raises(ValueError, match='--threads must be >= 1'):
            set_threads(0)
    finally:
        torch.set_num_threads(before)
    parser = argparse.ArgumentParser()
    add_runner_args(parser)
    assert parser.parse_args(['--threads', '3']).threads == 3
    assert parser.parse_args([]).threads is None
