"""Distributed training on machines without a GPU (see docs: stack notes)."""
import torch
from mmengine.config import Config

__all__ = ['setup_cpu_distributed']


def setup_cpu_distributed(cfg: Config, launcher: str) -> None:
    """Prepare a config for distributed training on machines without a GPU.

    MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` and its DDP wrapper passes
    ``device_ids=[rank]``; both fail without CUDA.  This initialises the ``gloo``
    process group itself (the Runner then skips ``init_dist``) and tells the wrapper to
    use no device ids.  With a GPU it does nothing.

    Args:
        cfg: the Runner config, changed in place.
        launcher: the ``--launcher`` of tools/train.py (``'none'``, ``'pytorch'``, ...).
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
