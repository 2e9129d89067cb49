"""Command-line pieces shared by ``tools/train.py`` and ``tools/test.py``.

Only the standard library and ``mmengine.config`` are imported here (no torch), so a
tool can check its config before the heavy imports.
"""
import argparse
import difflib
import glob
import os
import os.path as osp
from typing import Dict, List, Optional

from mmengine.config import Config, DictAction

__all__ = ['LAUNCHERS', 'add_runner_args', 'export_local_rank', 'default_work_dir',
           'set_work_dir', 'load_config', 'check_data_files', 'set_threads', 'WorkDirBusy',
           'WorkDirLock', 'earlier_run_files', 'clear_or_refuse_earlier_run', 'CONFIG_SUFFIXES',
           'check_config_and_checkpoint']

#: The config file types MMEngine reads.
CONFIG_SUFFIXES = ('.py', '.json', '.yml', '.yaml')

#: The job launchers MMEngine knows (``--launcher``).
LAUNCHERS = ('none', 'pytorch', 'slurm', 'mpi')


def add_runner_args(parser: argparse.ArgumentParser,
                    cfg_options_example: str = 'train_cfg.max_epochs=5') -> None:
    """Add ``--cfg-options``, ``--launcher``, ``--local_rank`` (as MMEngine tools do) and
    ``--threads`` (:func:`set_threads`).

    Args:
        parser: the tool's parser, changed in place.
        cfg_options_example: a ``key=value`` shown in the ``--cfg-options`` help.
    """
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help=f'override settings in the config, e.g. {cfg_options_example}')
    parser.add_argument('--launcher', choices=list(LAUNCHERS), default='none',
                        help='job launcher')
    parser.add_argument('--threads', type=int,
                        help='PyTorch CPU threads per process (default: OMP_NUM_THREADS, '
                        'else 1: the models are small)')
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


def load_config(path: str, cfg_options: Optional[Dict] = None) -> Config:
    """``Config.fromfile`` with ``--cfg-options`` merged, failing fast with one message.

    Raises:
        FileNotFoundError: the config file does not exist (names the closest file of
            that folder).
        ValueError: the config file (or a base) has a syntax error: file and line.
        ConfigError: an override that would change nothing or fail late
            (:func:`~vega_mm.utils.config.check_overrides`).
    """
    if not osp.isfile(path):
        folder = osp.dirname(path) or '.'
        near = difflib.get_close_matches(
            osp.basename(path), [osp.basename(p) for p in glob.glob(osp.join(folder, '*.py'))],
            n=1)
        hint = f' (did you mean {osp.join(osp.dirname(path), near[0])!r}?)' if near else ''
        where = '' if osp.isdir(folder) else f'; folder {folder!r} does not exist'
        raise FileNotFoundError(f'config file {path!r} does not exist{where}{hint}; expected '
                                'a config such as configs/vega/vega_synthetic.py')
    try:
        cfg = Config.fromfile(path)
    except SyntaxError as exc:
        raise ValueError(f'config file {path!r} (or one of its _base_ files), line '
                         f'{exc.lineno}: {exc.msg}; expected valid Python') from None
    if cfg_options:
        from .config import merge_overrides  # mmengine only: no torch unless a nested
        merge_overrides(cfg, cfg_options)    # key needs its class looked up
    return cfg


def check_data_files(cfg: Config, keys: List[str]) -> None:
    """Every dataset of ``keys`` (dataloader names) that names an ``ann_file`` finds it.

    Relative paths are read from the working directory (MMEngine's rule), so a config
    run from another folder fails here, at once, instead of after the model is built.

    Raises:
        FileNotFoundError: naming the config, the dataloader, the path and the folder it
            was looked up from.
    """
    for key in keys:
        loader = cfg.get(key)
        dataset = loader.get('dataset') if isinstance(loader, dict) else None
        if not isinstance(dataset, dict) or not isinstance(dataset.get('ann_file'), str):
            continue
        path = dataset['ann_file']
        if not osp.isabs(path):
            path = osp.join(dataset.get('data_root') or '', path)
        if osp.exists(path):
            continue
        relative = '' if osp.isabs(path) else (
            f' (relative paths are read from the working directory {os.getcwd()!r}: run '
            'from the folder they are relative to, or set an absolute data_root)')
        raise FileNotFoundError(f'{cfg.filename}: {key}.dataset: data file {path!r} does '
                                f'not exist{relative}')


def check_config_and_checkpoint(config: str, checkpoint: str, tool: str) -> None:
    """The CONFIG and CHECKPOINT arguments of a tool are a config file and not a config
    file, in that order (MMEngine's own error for a checkpoint given as the config is a
    traceback that names neither argument).

    Args:
        config: the CONFIG argument.
        checkpoint: the CHECKPOINT argument.
        tool: the tool's path as the user runs it, e.g. ``tools/test.py``.

    Raises:
        ValueError: naming which argument is which (and the command in the right order
            when the two were swapped).
    """
    if config.endswith(CONFIG_SUFFIXES):
        if checkpoint.endswith(CONFIG_SUFFIXES):
            raise ValueError(f'CHECKPOINT {checkpoint!r} is a config file; expected {tool} '
                             'CONFIG CHECKPOINT, the checkpoint being a .pth file')
        return
    if checkpoint.endswith(CONFIG_SUFFIXES):
        raise ValueError(f'the config and the checkpoint are swapped: {tool} takes CONFIG '
                         f'first, then CHECKPOINT: {tool} {checkpoint} {config} ...')
    raise ValueError(f'CONFIG {config!r} is not a config file (expected '
                     f'{"/".join(CONFIG_SUFFIXES)}): {tool} takes CONFIG first, then '
                     'CHECKPOINT')


def set_threads(threads: Optional[int], default: int = 1) -> int:
    """PyTorch's intra-op threads for a tool: ``threads``, else ``OMP_NUM_THREADS``, else
    ``default``.

    PyTorch's own default is one thread per core. The training models are small (one
    dialogue is at most a few hundred utterances of a few hundred features): each
    operation is too short for more threads to pay for their synchronisation, and on a
    loaded machine the default was many times slower than one thread; so training and
    testing default to 1. Feature extraction runs a transformer on batches of sentences,
    where a few threads do help: ``tools/extract_features.py`` passes ``min(4, cores)``.

    Returns:
        The number of threads set.
    """
    import torch
    if threads is None:
        threads = int(os.environ.get('OMP_NUM_THREADS') or default)
    if threads < 1:
        raise ValueError(f'--threads must be >= 1, got {threads}')
    torch.set_num_threads(threads)
    return threads


class WorkDirBusy(RuntimeError):
    """Another training run holds the work dir."""


class WorkDirLock:
    """An exclusive lock on a work dir, for one training run at a time.

    ``fcntl.flock`` on ``<work_dir>/train.lock``: the operating system releases it when
    the process ends, however it ends (a killed run leaves no stale lock). The file holds
    the pid of the run that holds it, for the message.
    """

    NAME = 'train.lock'

    def __init__(self, work_dir: str) -> None:
        self.work_dir = work_dir
        self.path = osp.join(work_dir, self.NAME)
        self._fd: Optional[int] = None

    def acquire(self) -> 'WorkDirLock':
        """Take the lock.

        Raises:
            WorkDirBusy: another live process holds it (names the dir and its pid).
        """
        import fcntl
        os.makedirs(self.work_dir, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode(errors='replace').strip() or '?'
            os.close(fd)
            raise WorkDirBusy(
                f'work dir {self.work_dir!r} is in use by another training run (pid '
                f'{holder}); wait for it to finish, or give another --work-dir') from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the file releases the lock
            self._fd = None


def earlier_run_files(work_dir: str) -> List[str]:
    """The files of an earlier training run in a work dir: its checkpoints (``*.pth``),
    MMEngine's ``last_checkpoint`` pointer and ``results.json``, sorted (logs, in their
    timestamped folders, are not listed: they cannot be mistaken for the new run's)."""
    if not osp.isdir(work_dir):
        return []
    found = glob.glob(osp.join(glob.escape(work_dir), '*.pth'))
    found += [osp.join(work_dir, n) for n in ('last_checkpoint', 'results.json')
              if osp.isfile(osp.join(work_dir, n))]
    return sorted(found)


def clear_or_refuse_earlier_run(work_dir: str, resume: bool, overwrite: bool) -> List[str]:
    """Keep a new training run from mixing with an earlier one in the same work dir.

    A new run into a work dir holding an earlier run's checkpoints or results would
    leave ``best_..._epoch_20.pth`` of the old run beside the new run's best checkpoint
    and replace ``results.json``: nothing would tell which file belongs to which run.
    Call with the work dir's lock held (:class:`WorkDirLock`).

    Args:
        work_dir: the run's work dir.
        resume: ``--resume`` was given (the earlier run is continued: nothing to do).
        overwrite: ``--overwrite`` was given: delete the earlier run's files first.

    Returns:
        The files deleted (empty unless ``overwrite``).

    Raises:
        ValueError: the work dir holds an earlier run and neither flag was given; names
            the dir, the files and the three ways on.
    """
    if resume:
        return []
    files = earlier_run_files(work_dir)
    if not files:
        return []
    if overwrite:
        for path in files:
            os.remove(path)
        return files
    names = [osp.basename(f) for f in files]
    shown = ', '.join(names[:4]) + (f', ... ({len(names) - 4} more)' if len(names) > 4 else '')
    finished = 'a finished run' if 'results.json' in names else 'an earlier run'
    raise ValueError(f'work dir {work_dir!r} holds {finished} ({shown}); a new run there would '
                     'mix with it. Add --resume to continue it, --overwrite to delete its '
                     'checkpoints and results and train anew, or give another --work-dir')
