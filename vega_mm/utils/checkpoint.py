"""Loading MMEngine Runner checkpoints on PyTorch >= 2.6 without allowing code to run.

PyTorch >= 2.6 loads with ``weights_only=True`` and rejects the objects MMEngine 0.10
puts into its checkpoints besides tensors (see docs: stack notes). Rather than switching
the safety off, checkpoints are read through a :class:`RestrictedUnpickler` that accepts
exactly those objects on top of what ``weights_only`` accepts.
"""
import errno
import functools
import glob
import hashlib
import os
import pickle
import re
import zipfile
from typing import Any, Dict, List, Mapping, Optional, Tuple, Union

import torch

from .safe_pickle import (NUMPY_ARRAY_GLOBALS, AllowList, RestrictedUnpickler,
                          UnsafePickleError, as_pickle_module)

__all__ = ['RUNNER_CHECKPOINT_ALLOW_LIST', 'CheckpointError', 'ATOMIC_BACKEND',
           'load_runner_checkpoint', 'register_checkpoint_loader', 'checkpoint_problem',
           'find_intact_checkpoint', 'non_finite_entries', 'describe_mismatch',
           'mismatch_error', 'training_config_hint', 'DIGEST_KEY', 'state_dict_digest',
           'digest_problem', 'check_state_dict_digest',
           'register_atomic_backend']


class CheckpointError(RuntimeError):
    """A checkpoint cannot be read, written or used; the message names the file."""


_HISTORY_BUFFER = ('mmengine.logging.history_buffer', 'HistoryBuffer')


def _weights_only_globals() -> Mapping[str, Any]:
    """What ``torch.load(weights_only=True)`` allows (tensors, storages, dtypes, ...)."""
    from torch._weights_only_unpickler import _get_allowed_globals
    return _get_allowed_globals()


def _history_buffer_getattr(obj: Any, name: str) -> Any:
    """``getattr`` that reaches only ``HistoryBuffer``'s public methods.

    The message hub pickles its statistics methods as ``getattr(HistoryBuffer, 'mean')``;
    an unrestricted ``getattr`` would be enough to reach ``eval``.
    """
    from mmengine.logging import HistoryBuffer
    if obj is HistoryBuffer and not name.startswith('_') and \
            callable(HistoryBuffer.__dict__.get(name)):
        return getattr(obj, name)
    raise UnsafePickleError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); only HistoryBuffer statistics '
        'methods are allowed')


#: The allow-list of Runner checkpoints: ``weights_only``'s, the message hub's
#: ``HistoryBuffer`` and NumPy arrays, scalars and dtypes (whose bytes PyTorch before
#: 2.4 pickles as ``_codecs.encode(str, 'latin1')``, a pure conversion).
RUNNER_CHECKPOINT_ALLOW_LIST = AllowList(
    names=NUMPY_ARRAY_GLOBALS | frozenset([_HISTORY_BUFFER, ('_codecs', 'encode')] + [
        ('numpy.dtypes', f'{t}DType') for t in (
            'Float64', 'Float32', 'Float16', 'Int64', 'Int32', 'Int8', 'UInt8', 'Bool')]),
    refusal='it is not tensor data or an MMEngine training state',
    table=_weights_only_globals,
    getattr_policy=_history_buffer_getattr)


class _RunnerCheckpointUnpickler(RestrictedUnpickler):
    allow_list = RUNNER_CHECKPOINT_ALLOW_LIST


_RESTRICTED_PICKLE = as_pickle_module(_RunnerCheckpointUnpickler,
                                      'vega_mm_runner_checkpoint_pickle')


def load_runner_checkpoint(filename: str, map_location: Any = None) -> Dict[str, Any]:
    """Load a local MMEngine checkpoint without allowing it to run code.

    Args:
        filename: the checkpoint file.
        map_location: as in ``torch.load``.

    Returns:
        The checkpoint (``state_dict``, ``meta``, ``message_hub``, ...).

    Raises:
        FileNotFoundError: if ``filename`` does not exist.
        RuntimeError: naming the file, if it holds anything outside
            :data:`RUNNER_CHECKPOINT_ALLOW_LIST` (nothing it names is called) or is not
            a readable pickle.
    """
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename!r} does not exist')
    if os.path.getsize(filename) == 0:
        raise CheckpointError(f'checkpoint {filename!r} is empty (0 bytes): expected a '
                              'file written by torch.save')
    try:
        return torch.load(filename, map_location=map_location, weights_only=False,
                          pickle_module=_RESTRICTED_PICKLE)
    except (pickle.UnpicklingError, EOFError, RuntimeError, ValueError,
            zipfile.BadZipFile) as exc:  # a refusal, or a corrupt or truncated file
        raise CheckpointError(f'could not load checkpoint {filename!r} (expected a file '
                              f'written by torch.save): {exc}') from exc


def checkpoint_problem(filename: str) -> Optional[str]:
    """Why a checkpoint file is not intact, or None if it is.

    Checks the file's zip container and every member's CRC (what ``torch.save``
    writes since PyTorch 1.6) without unpickling anything; a file in the legacy
    non-zip format is loaded instead.

    Args:
        filename: the checkpoint.

    Returns:
        None for an intact file, else a short reason (missing, empty, truncated, ...).
    """
    if not os.path.isfile(filename):
        return 'missing'
    if os.path.getsize(filename) == 0:
        return 'empty (0 bytes)'
    if not zipfile.is_zipfile(filename):
        try:
            load_runner_checkpoint(filename, map_location='cpu')
        except (CheckpointError, OSError) as exc:
            return f'unreadable ({exc})'
        return None
    try:
        with zipfile.ZipFile(filename) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        return f'truncated or corrupt ({exc})'
    return None if bad is None else f'corrupt member {bad!r}'


_STEP = re.compile(r'^(epoch|iter)_(\d+)\.pth$')


def find_intact_checkpoint(work_dir: str) -> Tuple[Optional[str], List[Tuple[str, str]]]:
    """The newest intact checkpoint of a run, for an automatic ``--resume``.

    Candidates are the file named by ``work_dir/last_checkpoint`` (MMEngine's pointer),
    then the ``epoch_N.pth`` / ``iter_N.pth`` files in ``work_dir``, newest step first.

    Args:
        work_dir: the run's work dir.

    Returns:
        ``(path or None, skipped)``: the first intact candidate, and
        ``[(candidate, reason), ...]`` for the newer ones that were not intact.
    """
    candidates: List[str] = []
    pointer = os.path.join(work_dir, 'last_checkpoint')
    if os.path.isfile(pointer):
        with open(pointer, encoding='utf-8', errors='replace') as f:
            named = f.read().strip()
        if named:
            candidates.append(named)
    steps = []
    for path in glob.glob(os.path.join(glob.escape(work_dir), '*.pth')):
        match = _STEP.match(os.path.basename(path))
        if match:
            steps.append((int(match.group(2)), path))
    candidates += [p for _, p in sorted(steps, reverse=True)]
    skipped, seen = [], set()
    for path in candidates:
        key = os.path.abspath(path)
        if key in seen:
            continue
        seen.add(key)
        problem = checkpoint_problem(path)
        if problem is None:
            return path, skipped
        skipped.append((path, problem))
    return None, skipped


def non_finite_entries(state_dict: Mapping[str, Any], limit: int = 5) -> List[str]:
    """Names of floating-point tensors holding NaN or Inf (the first ``limit``).

    Args:
        state_dict: name -> tensor (other values are ignored).
        limit: stop after this many.

    Returns:
        ``['name (3 NaN, 0 Inf of 64)', ...]``.
    """
    found = []
    for name, value in state_dict.items():
        if not (torch.is_tensor(value) and value.is_floating_point()):
            continue
        finite = torch.isfinite(value)
        if bool(finite.all()):
            continue
        nan = int(torch.isnan(value).sum())
        found.append(f'{name} ({nan} NaN, {int((~finite).sum()) - nan} Inf of '
                     f'{value.numel()})')
        if len(found) >= limit:
            break
    return found


def load_from_local(filename: str, map_location: Any = None) -> Dict[str, Any]:
    """MMEngine's local-file checkpoint scheme, read by :func:`load_runner_checkpoint`."""
    return load_runner_checkpoint(os.path.expanduser(filename), map_location=map_location)


def register_checkpoint_loader() -> None:
    """Make MMEngine's local-file checkpoint scheme use :func:`load_runner_checkpoint`.

    Installed where vega_mm loads checkpoints (its runner, ``build_runner``,
    ``init_model``), not when vega_mm is imported: a program that only imports vega_mm
    keeps MMEngine's own loader. Idempotent: once installed, calling it again changes
    nothing.
    """
    from mmengine.runner.checkpoint import CheckpointLoader
    if CheckpointLoader._schemes.get('') is not load_from_local:
        CheckpointLoader.register_scheme(prefixes='', loader=load_from_local, force=True)


_SIZE = re.compile(r'size mismatch for (\S+): copying a param with shape (.+?) from checkpoint, '
                   r'the shape in current model is (.+?)\.(?:\n|$)')


def describe_mismatch(message: str, limit: int = 3) -> str:
    """A short account of a strict ``load_state_dict`` failure: how many keys are
    unexpected, missing or of another shape, and the first ``limit`` of each.

    Args:
        message: the ``RuntimeError`` text of MMEngine's or PyTorch's strict loading.
        limit: keys shown per kind.
    """
    def first(keys: List[str]) -> str:
        more = f', ... ({len(keys) - limit} more)' if len(keys) > limit else ''
        return ', '.join(keys[:limit]) + more

    parts = []
    sizes = _SIZE.findall(message)
    if sizes:
        shown = [f'{k}: checkpoint {a.replace("torch.Size", "")}, model '
                 f'{b.replace("torch.Size", "")}' for k, a, b in sizes]
        parts.append(f'{len(sizes)} tensors of another shape ({first(shown)})')
    for label, marker in (('keys the model lacks', 'unexpected key in source state_dict: '),
                          ('model keys missing from the checkpoint',
                           'missing keys in source state_dict: ')):
        for line in message.splitlines():
            if line.startswith(marker):
                keys = [k.strip() for k in line[len(marker):].split(',') if k.strip()]
                parts.append(f'{len(keys)} {label} ({first(keys)})')
    return '; '.join(parts) or message.strip().splitlines()[0]


def mismatch_error(exc: RuntimeError, filename: str,
                   config: Optional[str]) -> Optional[CheckpointError]:
    """The error to raise for a strict ``load_state_dict`` failure: the file, the
    config and :func:`describe_mismatch`'s account; None when ``exc`` is not a
    mismatch (re-raise it then).

    Args:
        exc: what MMEngine's or PyTorch's strict loading raised.
        filename: the checkpoint.
        config: the config file the model was built from (None: not from a file).
    """
    text = str(exc)
    if 'do not match exactly' not in text and 'size mismatch' not in text \
            and 'Error(s) in loading state_dict' not in text:
        return None
    return CheckpointError(f'checkpoint {filename!r} does not fit the model of '
                           f'{config or "the config"}: {describe_mismatch(text)}; '
                           f'{training_config_hint(filename)}')


def training_config_hint(filename: str, recorded: Optional[str] = None) -> str:
    """Advice that works for a checkpoint that does not fit a config: use the config it
    was trained with. MMEngine saves that config into the work dir beside the
    checkpoints, and its text into the checkpoint (``meta.cfg``, ``recorded``).

    Args:
        filename: the checkpoint.
        recorded: its ``meta.cfg`` text, if known: the ``.py`` file beside it with
            that text is named; without it, the only ``.py`` file beside it.

    Returns:
        ``'use the config it was trained with, ...'`` naming the file, or saying how to
        write it out of the checkpoint.
    """
    folder = os.path.dirname(filename)
    found = sorted(glob.glob(os.path.join(glob.escape(folder or '.'), '*.py')))
    if recorded is not None:
        def same(path: str) -> bool:
            try:
                with open(path, encoding='utf-8') as f:
                    return f.read().strip() == recorded.strip()
            except (OSError, UnicodeDecodeError):
                return False
        found = [p for p in found if same(p)]
    elif len(found) != 1:
        found = []
    if found:
        path = os.path.join(folder, os.path.basename(found[0]))
        return (f'use the config it was trained with, {path} (saved beside it in its '
                'work dir)')
    if recorded is not None:
        return ('use the config it was trained with; the checkpoint holds its text: python '
                '-c "from vega_mm.utils import load_runner_checkpoint as load; '
                f"print(load({filename!r})['meta']['cfg'])\" > trained_config.py")
    return 'use the config it was trained with'


#: Where a checkpoint's ``meta`` records :func:`state_dict_digest` of its weights.
DIGEST_KEY = 'state_dict_sha256'


def state_dict_digest(state_dict: Mapping[str, Any]) -> str:
    """SHA-256 of a state dict's tensors: names in sorted order, each with its dtype,
    shape and raw bytes (non-tensor entries are left out).

    The same weights give the same digest whatever device they are on or the order
    they were stored in; one flipped bit gives another.
    """
    digest = hashlib.sha256()
    for name in sorted(state_dict):
        value = state_dict[name]
        if not torch.is_tensor(value):
            continue
        flat = value.detach().cpu().contiguous().reshape(-1)
        digest.update(f'{name}\0{flat.dtype}\0{tuple(value.shape)}\0'.encode('utf-8'))
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def digest_problem(checkpoint: Mapping[str, Any]) -> Optional[str]:
    """Why a loaded checkpoint's weights are not those its ``meta`` digest records
    (``'is corrupt: ...'``), or None when they are or when it records no digest
    (written before digests were recorded, or by other code)."""
    meta = checkpoint.get('meta') if isinstance(checkpoint, Mapping) else None
    recorded = meta.get(DIGEST_KEY) if isinstance(meta, Mapping) else None
    if recorded is None:
        return None
    got = state_dict_digest(checkpoint.get('state_dict', checkpoint))
    if got == recorded:
        return None
    return (f'is corrupt: the SHA-256 of its weights is {got[:16]}... but '
            f'meta.{DIGEST_KEY} records {str(recorded)[:16]}... (the file changed after '
            'it was saved); use an intact copy or retrain')


def check_state_dict_digest(checkpoint: Mapping[str, Any], filename: str) -> None:
    """Check a loaded checkpoint's weights against the digest its ``meta`` records
    (:func:`digest_problem`; no digest: nothing to check).

    Raises:
        CheckpointError: naming the file, when the weights are not those that were saved
            (flipped or overwritten bytes).
    """
    problem = digest_problem(checkpoint)
    if problem is not None:
        raise CheckpointError(f'checkpoint {filename!r} {problem}')


#: The MMEngine file backend that writes atomically; CheckpointHook's ``backend_args``.
ATOMIC_BACKEND = 'vega_atomic_local'


def _atomic_put(data: bytes, filepath: Union[str, 'os.PathLike']) -> None:
    from .io import atomic_write_bytes
    try:
        atomic_write_bytes(os.fspath(filepath), data)
    except OSError as exc:
        why = ('the disk is full' if exc.errno in (errno.ENOSPC, errno.EDQUOT)
               else exc.strerror or str(exc))
        raise CheckpointError(
            f'could not write {os.fspath(filepath)!r} ({len(data)} bytes): {why}. '
            'Nothing was written there; a previous file of that name, if any, is '
            'unchanged') from exc


@functools.lru_cache(maxsize=None)
def register_atomic_backend() -> str:
    """Register :data:`ATOMIC_BACKEND`: MMEngine's local backend whose ``put`` and
    ``put_text`` write a temporary file beside the target and rename it, so a reader
    (or a resumed run) never sees a half-written checkpoint.

    Returns:
        The backend name, for ``backend_args=dict(backend=...)``.
    """
    from mmengine.fileio import LocalBackend, register_backend

    class AtomicLocalBackend(LocalBackend):
        """``LocalBackend`` with atomic writes (temporary file, then rename)."""

        def put(self, obj: bytes, filepath: Union[str, 'os.PathLike']) -> None:
            _atomic_put(obj, filepath)

        def put_text(self, obj: str, filepath: Union[str, 'os.PathLike'],
                     encoding: str = 'utf-8') -> None:
            _atomic_put(obj.encode(encoding), filepath)

    register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)
    return ATOMIC_BACKEND
