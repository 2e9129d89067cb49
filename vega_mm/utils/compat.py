"""Fixes for running MMEngine 0.10 on current PyTorch (see docs: stack notes)."""
import os
from typing import Optional

import torch

_REGISTERED = False


def _runner_checkpoint_globals() -> list:
    """Non-tensor types an MMEngine Runner checkpoint holds (message hub, meta)."""
    import numpy as np
    from mmengine.logging import HistoryBuffer
    safe = [HistoryBuffer, np.dtype, np.ndarray, np.float64, np.float32, np.int64,
            np.int32, np.bool_]
    # numpy array reconstruction helpers (module path differs in numpy 1.x / 2.x)
    try:
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy < 2
        from numpy.core.multiarray import _reconstruct, scalar  # type: ignore
    safe += [_reconstruct, scalar]
    safe += [type(np.dtype(t)) for t in ('float64', 'float32', 'int64', 'int32', 'bool')]
    return safe


def load_runner_checkpoint(filename: str, map_location=None):
    """Load a local MMEngine checkpoint with ``weights_only=True``.

    PyTorch >= 2.6 loads with ``weights_only=True`` and rejects the message-hub objects
    MMEngine puts into its checkpoints.  Rather than switching the safety off, the
    handful of types those checkpoints hold are allow-listed for this load only.
    """
    if not os.path.isfile(filename):
        raise FileNotFoundError(f'checkpoint {filename!r} does not exist')
    try:
        with torch.serialization.safe_globals(_runner_checkpoint_globals()):
            return torch.load(filename, map_location=map_location, weights_only=True)
    except Exception as exc:  # noqa: BLE001 - re-raised with the file named
        raise RuntimeError(
            f'could not load checkpoint {filename!r} as a tensor-and-data-only file '
            f'({type(exc).__name__}: {exc}). vega_mm loads checkpoints with '
            'weights_only=True; if this is a trusted file from another tool, convert it '
            'to a plain state dict first.') from exc


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
