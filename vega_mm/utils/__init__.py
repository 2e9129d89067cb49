"""Utilities at the bottom floor of vega_mm.

The names are imported on first use (PEP 562), so ``from vega_mm.utils.cli import ...``
(what the tools parse their arguments with) imports neither torch nor MMEngine's runner:
a tool can refuse a misspelt config path at once.
"""
import importlib
from typing import Any

_EXPORTS = {
    'checkpoint': ('RUNNER_CHECKPOINT_ALLOW_LIST', 'CheckpointError', 'checkpoint_problem',
                   'find_intact_checkpoint', 'load_runner_checkpoint',
                   'register_checkpoint_loader', 'state_dict_digest',
                   'check_state_dict_digest'),
    'cli': ('add_runner_args', 'default_work_dir', 'export_local_rank', 'set_work_dir',
            'load_config', 'set_threads', 'WorkDirLock', 'WorkDirBusy'),
    'config': ('ConfigError', 'apply_modalities', 'check_config', 'check_overrides',
               'merge_overrides'),
    'distributed': ('setup_cpu_distributed', ),
    'input_format': ('InputFormat', 'register_format', 'detect_format', 'input_formats',
                     'accepted_suffixes'),
    'safe_pickle': ('AllowList', 'RestrictedUnpickler', 'UnsafePickleError',
                    'as_pickle_module', 'import_global', 'safe_load_pickle'),
    'shards': ('parse_shard', 'shard_of'),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
    value = getattr(importlib.import_module(f'.{module}', __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
