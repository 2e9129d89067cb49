"""Fixes for running MMEngine 0.10 on current PyTorch (see docs: stack notes)."""
import functools
import os
import pickle
import types

import torch

_REGISTERED = False


class _RunnerCheckpointUnpickler(pickle.Unpickler):
    """Unpickler for MMEngine Runner checkpoints that cannot run code.

    It allows what ``torch.load(weights_only=True)`` allows, plus the few types an
    MMEngine checkpoint holds besides tensors: the message hub's ``HistoryBuffer`` (and
    its statistics methods, pickled as ``getattr(HistoryBuffer, 'mean')``) and NumPy
    arrays and scalars.  ``getattr`` is replaced by a version that reaches only those
    methods, since an unrestricted ``getattr`` is enough to reach ``eval``.
    """

    def find_class(self, module: str, name: str):
        full = f'{module}.{name}'
        allowed = _allowed_globals()
        if full in allowed:
            return allowed[full]
        if module in ('builtins', '__builtin__') and name == 'getattr':
            return _history_buffer_getattr
        raise pickle.UnpicklingError(
            f'checkpoint holds the global {full!r}, which is not tensor data or an '
            'MMEngine training state; refusing to load it')


@functools.lru_cache(maxsize=1)
def _allowed_globals() -> dict:
    import numpy as np
    from mmengine.logging import HistoryBuffer
    from torch._weights_only_unpickler import _get_allowed_globals
    allowed = dict(_get_allowed_globals())
    allowed['mmengine.logging.history_buffer.HistoryBuffer'] = HistoryBuffer
    for mod in ('numpy._core.multiarray', 'numpy.core.multiarray'):
        for name in ('_reconstruct', 'scalar'):
            allowed[f'{mod}.{name}'] = getattr(np._core.multiarray, name) \
                if hasattr(np, '_core') else getattr(np.core.multiarray, name)
    allowed['numpy.ndarray'] = np.ndarray
    allowed['numpy.dtype'] = np.dtype
    for t in ('float64', 'float32', 'float16', 'int64', 'int32', 'int8', 'uint8', 'bool'):
        cls = type(np.dtype(t))
        allowed[f'numpy.dtypes.{cls.__name__}'] = cls
    return allowed


def _history_buffer_getattr(obj, name: str):
    from mmengine.logging import HistoryBuffer
    if obj is HistoryBuffer and not name.startswith('_') and \
            callable(HistoryBuffer.__dict__.get(name)):
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({obj!r}, {name!r}); only HistoryBuffer statistics '
        'methods are allowed')


_RESTRICTED_PICKLE = types.SimpleNamespace(
    __name__='vega_mm_runner_checkpoint_pickle',
    Unpickler=_RunnerCheckpointUnpickler,
    load=lambda f, **kw: _RunnerCheckpointUnpickler(f, **kw).load())


def load_runner_checkpoint(filename: str, map_location=None):
    """Load a local MMEngine checkpoint without allowing it to run code.

    PyTorch >= 2.6 loads with ``weights_only=True`` and rejects the message-hub objects
    MMEngine puts into its checkpoints.  Rather than switching the safety off, this
    loads through :class:`_RunnerCheckpointUnpickler`, which accepts exactly those
    objects on top of what ``weights_only`` accepts.
    """
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename!r} does not exist')
    try:
        return torch.load(filename, map_location=map_location, weights_only=False,
                          pickle_module=_RESTRICTED_PICKLE)
    except pickle.UnpicklingError as exc:
        raise RuntimeError(f'could not load checkpoint {filename!r}: {exc}') from exc


def register_checkpoint_loader() -> None:
    """Make MMEngine's local-file checkpoint scheme use :func:`load_runner_checkpoint`."""
    global _REGISTERED
    if _REGISTERED:
        return
    from mmengine.runner.checkpoint import CheckpointLoader

    @CheckpointLoader.register_scheme(prefixes='', force=True)
    def load_from_local(filename: str, map_location=None):  # noqa: ANN001
        filename = os.path.expanduser(filename)
        return load_runner_checkpoint(filename, map_location=map_location)

    _REGISTERED = True


def setup_cpu_distributed(cfg, launcher: str) -> None:
    """Prepare a config for distributed training on machines without a GPU.

    MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` and its DDP wrapper passes
    ``device_ids=[rank]``; both fail without CUDA.  This initialises the ``gloo``
    process group itself (the Runner then skips ``init_dist``) and tells the wrapper to
    use no device ids.  With a GPU it does nothing.
    """
    if launcher == 'none' or torch.cuda.is_available():
        return
    import torch.distributed as dist
    if launcher != 'pytorch':
        raise ValueError(f'CPU distributed training supports --launcher pytorch (torchrun), '
                         f'got {launcher!r}')
    if not dist.is_initialized():
        dist.init_process_group(backend='gloo')
    cfg.env_cfg = cfg.get('env_cfg', {})
    cfg.env_cfg.setdefault('dist_cfg', {})
    cfg.env_cfg['dist_cfg']['backend'] = 'gloo'
    wrapper = dict(cfg.get('model_wrapper_cfg') or dict(type='MMDistributedDataParallel'))
    wrapper['device_ids'] = None
    cfg.model_wrapper_cfg = wrapper
    # SyncBN needs GPUs.
    if cfg.get('sync_bn'):
        cfg.sync_bn = None
