"""Loading MMEngine Runner checkpoints on PyTorch >= 2.6 without allowing code to run.

PyTorch >= 2.6 loads with ``weights_only=True`` and rejects the objects MMEngine 0.10
puts into its checkpoints besides tensors (see docs: stack notes). Rather than switching
the safety off, checkpoints are read through a :class:`RestrictedUnpickler` that accepts
exactly those objects on top of what ``weights_only`` accepts.
"""
import functools
import os
import pickle
from typing import Any, Dict, Mapping

import torch

from .safe_pickle import (NUMPY_ARRAY_GLOBALS, AllowList, RestrictedUnpickler,
                          UnsafePickleError, as_pickle_module)

__all__ = ['RUNNER_CHECKPOINT_ALLOW_LIST', 'load_runner_checkpoint',
           'register_checkpoint_loader']

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
#: ``HistoryBuffer`` and NumPy arrays, scalars and dtypes.
RUNNER_CHECKPOINT_ALLOW_LIST = AllowList(
    names=NUMPY_ARRAY_GLOBALS | frozenset([_HISTORY_BUFFER] + [
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
    try:
        return torch.load(filename, map_location=map_location, weights_only=False,
                          pickle_module=_RESTRICTED_PICKLE)
    except pickle.UnpicklingError as exc:  # a refusal, or a corrupt file
        raise RuntimeError(f'could not load checkpoint {filename!r}: {exc}') from exc


@functools.lru_cache(maxsize=None)  # registers once, however often vega_mm is imported
def register_checkpoint_loader() -> None:
    """Make MMEngine's local-file checkpoint scheme use :func:`load_runner_checkpoint`."""
    from mmengine.runner.checkpoint import CheckpointLoader

    @CheckpointLoader.register_scheme(prefixes='', force=True)
    def load_from_local(filename: str, map_location: Any = None) -> Dict[str, Any]:
        filename = os.path.expanduser(filename)
        return load_runner_checkpoint(filename, map_location=map_location)
