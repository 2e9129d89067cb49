"""Command-line pieces shared by ``tools/train.py`` and ``tools/test.py``."""
import argparse
import os
import os.path as osp
from typing import Optional

from mmengine.config import Config, DictAction

__all__ = ['LAUNCHERS', 'add_runner_args', 'export_local_rank', 'default_work_dir', 'set_work_dir']

#: The job launchers MMEngine knows (``--launcher``).
LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def add_runner_args(parser: argparse.ArgumentParser,
                    cfg_options_example: str = 'train_cfg.max_epochs=5') -> None:
    """Add ``--cfg-options``, ``--launcher`` and ``--local_rank`` (as MMEngine tools do).

    Args:
        parser: the tool's parser, changed in place.
        cfg_options_example: a ``key=value`` shown in the ``--cfg-options`` help.
    """
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help=f'override settings in the config, e.g. {cfg_options_example}')
    parser.add_argument('--launcher', choices=list(LAUNCHERS), default='none',
                        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def export_local_rank(args: argparse.Namespace) -> None:
    """Set ``LOCAL_RANK`` from ``--local_rank`` unless the launcher (torchrun) set it."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)


def default_work_dir(config_file: str) -> str:
    """``./work_dirs/<config file name without extension>``, MMEngine tools' default."""
    return osp.join('./work_dirs', osp.splitext(osp.basename(config_file))[0])


def set_work_dir(cfg: Config, config_file: str, work_dir: Optional[str] = None) -> str:
    """Set ``cfg.work_dir``: ``work_dir`` if given, else the config's own, else the default.

    Args:
        cfg: the loaded config, changed in place.
        config_file: the config's path (names the default work dir).
        work_dir: the ``--work-dir`` argument, ``None`` when not given.

    Returns:
        The work dir now in ``cfg.work_dir``.
    """
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = default_work_dir(config_file)
    return cfg.work_dir
