from .checkpoint import (RUNNER_CHECKPOINT_ALLOW_LIST, CheckpointError,
                         check_state_dict_digest, checkpoint_problem, find_intact_checkpoint,
                         load_runner_checkpoint, register_checkpoint_loader,
                         state_dict_digest)
from .cli import add_runner_args, default_work_dir, export_local_rank, set_work_dir
from .config import ConfigError, apply_modalities, check_config
from .distributed import setup_cpu_distributed
from .safe_pickle import (AllowList, RestrictedUnpickler, UnsafePickleError,
                          as_pickle_module, import_global, safe_load_pickle)

__all__ = [
    'add_runner_args', 'default_work_dir', 'export_local_rank', 'set_work_dir',
    'apply_modalities', 'check_config', 'ConfigError', 'CheckpointError',
    'checkpoint_problem', 'find_intact_checkpoint', 'register_checkpoint_loader',
    'state_dict_digest', 'check_state_dict_digest',
    'load_runner_checkpoint', 'setup_cpu_distributed',
    'RUNNER_CHECKPOINT_ALLOW_LIST', 'AllowList', 'RestrictedUnpickler',
    'UnsafePickleError', 'as_pickle_module', 'import_global', 'safe_load_pickle'
]
