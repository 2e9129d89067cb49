"""Config-level derivations and checks that MMEngine's merging cannot express."""
import difflib
import os
from typing import Any, Iterator, List, Optional, Sequence, Set

from mmengine.config import Config, ConfigDict

from vega_mm.structures.meta import HEADLINE_METRICS, MODALITIES

__all__ = ['apply_modalities', 'check_config', 'ConfigError', 'RUNNER_KEYS']

#: Top-level keys MMEngine's ``Runner.from_cfg`` (and vega_mm's runner) read.
RUNNER_KEYS = frozenset([
    'model', 'work_dir', 'train_dataloader', 'val_dataloader', 'test_dataloader',
    'train_cfg', 'val_cfg', 'test_cfg', 'auto_scale_lr', 'optim_wrapper',
    'param_scheduler', 'val_evaluator', 'test_evaluator', 'default_hooks', 'custom_hooks',
    'data_preprocessor', 'load_from', 'resume', 'launcher', 'env_cfg', 'log_processor',
    'log_level', 'visualizer', 'default_scope', 'randomness', 'experiment_name',
    'model_wrapper_cfg', 'compile', 'cfg', 'runner_type', 'custom_imports', 'modalities',
    'strategy', 'activation_checkpointing', 'efficient_conv_bn_eval', 'resource_limit',
    'find_unused_parameters', 'sync_bn', 'gpu_ids'])


class ConfigError(ValueError):
    """A config that cannot give a trustworthy run; the message names the key."""

_DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def apply_modalities(cfg: Config) -> Config:
    """Apply a config's one ``modalities`` declaration to every part that reads it.

    A config names its modalities once, at the top level (``modalities = ('text', )``).
    This sets them on the model (which derives the backbone inputs, the heads' branches
    and the distillation weights from them), on each dataloader's dataset and on every
    ``PackConversationInputs`` of their pipelines.  Configs without the top-level key
    are returned unchanged.  The config is changed in place and returned.

    Raises:
        ValueError: the declaration is empty or names an unknown modality.
    """
    modalities = cfg.get('modalities')
    if modalities is None:
        return cfg
    if isinstance(modalities, str):
        modalities = (modalities, )
    modalities = tuple(modalities)
    unknown = [m for m in modalities if m not in MODALITIES]
    if not modalities or unknown:
        raise ValueError(f'config key modalities={modalities!r}: expected a non-empty '
                         f'subset of {MODALITIES}')
    model = cfg.get('model')
    if isinstance(model, dict) and model.get('type') == 'ConversationClassifier':
        model['modalities'] = modalities
    for key in _DATALOADERS:
        dataset = _dataset(cfg.get(key))
        if dataset is None:
            continue
        dataset['modalities'] = modalities
        for i, transform in enumerate(dataset.get('pipeline') or []):
            if not isinstance(transform, dict):
                continue
            if transform.get('type') == 'PackConversationInputs':
                transform['modalities'] = modalities
            elif transform.get('modalities') is not None:  # e.g. FeatureDimMask's
                own = transform['modalities']
                own = (own, ) if isinstance(own, str) else tuple(own)
                if set(own) - set(modalities):
                    raise ValueError(
                        f'config key {key}.dataset.pipeline[{i}].modalities={own!r}: '
                        f'{sorted(set(own) - set(modalities))} not among the declared '
                        f'modalities={modalities!r}')
    return cfg


def _dataset(loader: Optional[dict]) -> Optional[ConfigDict]:
    if not isinstance(loader, dict):
        return None
    dataset = loader.get('dataset')
    return dataset if isinstance(dataset, dict) else None


def _values(obj: Any) -> Iterator[Any]:
    """Every value inside a config value (dicts, lists, tuples), the value included."""
    yield obj
    if isinstance(obj, dict):
        for value in obj.values():
            yield from _values(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from _values(value)


def _is_used(value: Any, used: List[Any]) -> bool:
    """Whether a helper variable's value was used by a key the runner reads.

    A dict (or a list of dicts, such as a pipeline) counts as used where a read value
    holds all of its entries, perhaps with more: a config dumped into a work dir after
    ``apply_modalities`` has ``modalities`` in its datasets' pipelines but not in the
    ``train_pipeline`` variable they were made from.
    """
    if isinstance(value, str):
        return any(isinstance(u, str) and value in u for u in used)
    return any(_holds(u, value) for u in used)


def _holds(used: Any, value: Any) -> bool:
    """``used`` equals ``value`` or extends it with more dict entries (an empty value
    is held only by an equal one: ``val_cfgg = dict()`` is still a typo)."""
    if not value and isinstance(value, (dict, list, tuple)):
        return type(used) is type(value) and used == value
    if isinstance(value, dict):
        return isinstance(used, dict) and all(
            k in used and _holds(used[k], v) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return isinstance(used, (list, tuple)) and len(used) == len(value) and all(
            _holds(u, v) for u, v in zip(used, value))
    return type(used) is type(value) and used == value


def _inherited_keys(filename: Optional[str]) -> Set[str]:
    """Top-level keys the ``_base_`` files of a config define.

    A child config may set a dataset's fields directly and leave a base's helper
    variables (``data_root``, ``ann_file``) unused; that is not a typo of the child's.
    """
    if not filename or not os.path.isfile(filename):
        return set()
    keys: Set[str] = set()
    try:
        for base in Config._get_base_files(filename):
            path, _ = Config._get_cfg_path(base, filename)  # joined to filename's folder
            keys |= set(Config.fromfile(path).keys())
    except Exception:  # noqa: BLE001 - a base MMEngine itself reads: it reported it
        return keys
    return keys


def _plain_unread(cfg: Config) -> List[str]:
    """Top-level keys that are neither runner keys, nor private, nor used by one."""
    used = [v for k in cfg.keys() if k in RUNNER_KEYS for v in _values(cfg[k])]
    return [k for k in cfg.keys()
            if k not in RUNNER_KEYS and not k.startswith('_') and not _is_used(cfg[k], used)]


def _file_config(filename: Optional[str]) -> Optional[Config]:
    if not filename or not os.path.isfile(filename):
        return None
    try:
        return Config.fromfile(filename)
    except Exception:  # noqa: BLE001 - the config was read from it once: nothing to add
        return None


def _unread_keys(cfg: Config) -> List[str]:
    """Unread top-level keys (see :func:`check_config`).

    A key the config file defines, with the file's value, is judged on the file: an
    override such as ``--cfg-options train_dataloader.dataset.data_root=X`` leaves the
    file's ``data_root`` behind unread, and that is no typo.  A key that is new or was
    changed after the file was read (``--cfg-options data_root=X``, which no dataset
    reads) is judged on the config given.
    """
    unread = _plain_unread(cfg)
    if not unread:  # only then: reading the file and its bases costs a little
        return unread
    file_cfg = _file_config(cfg.filename)
    if file_cfg is None:
        return unread
    inherited = _inherited_keys(cfg.filename)
    file_unread = set(_plain_unread(file_cfg))
    return [k for k in unread
            if k not in file_cfg or file_cfg[k] != cfg[k] or
            (k in file_unread and k not in inherited)]


def _metric_prefixes(evaluator: Any) -> List[tuple]:
    """``(prefix, type)`` of every metric of an evaluator config."""
    from vega_mm.registry import METRICS
    metrics = evaluator.get('metrics', evaluator) if isinstance(evaluator, dict) and \
        'type' not in evaluator else evaluator
    metrics = metrics if isinstance(metrics, (list, tuple)) else [metrics]
    found = []
    for metric in metrics:
        if not isinstance(metric, dict) or 'type' not in metric:
            continue
        kind = metric['type']
        cls = kind
        if isinstance(kind, str):  # ours, or a parent scope's (mmpretrain's) on demand
            cls = METRICS.get(kind) or ('.' not in kind and METRICS.get(f'mmpretrain.{kind}'))
        if not cls:
            return []  # a metric we cannot look up: its keys are unknown, check nothing
        prefix = metric.get('prefix') or getattr(cls, 'default_prefix', None)
        found.append((prefix, cls.__name__))
    return found


def _check_monitored(cfg: Config, where: str, keys: Sequence[str]) -> None:
    evaluator = cfg.get('val_evaluator')
    if not evaluator or cfg.get('val_dataloader') is None:
        return
    metrics = _metric_prefixes(evaluator)
    if not metrics:
        return
    classes = tuple(cfg.get('classes') or ())
    for key in keys:
        if key == 'auto':
            continue
        prefix, _, name = key.rpartition('/')
        matching = [kind for p, kind in metrics if (p or '') == prefix]
        if not matching:
            raise ConfigError(
                f'{cfg.filename}: {where}={key!r}: the val_evaluator produces no metric '
                f"with prefix {prefix!r}; its metrics' prefixes are "
                f'{sorted({p or "" for p, _ in metrics})}')
        if 'ERCMetric' in matching and not (
                name in HEADLINE_METRICS or name.startswith('weighted_f1_') or
                (name.startswith('f1_') and (not classes or name[3:] in classes))):
            raise ConfigError(
                f'{cfg.filename}: {where}={key!r}: ERCMetric never reports {name!r}; it '
                f'reports {", ".join(prefix + "/" + n for n in HEADLINE_METRICS)}, '
                f'{prefix}/f1_<class> and {prefix}/weighted_f1_<branch>')


def check_config(cfg: Config) -> Config:
    """Refuse, before anything is built, a config that would give a run to distrust.

    Checks:

    - every top-level key is read: a key of MMEngine's Runner or vega_mm's, a helper
      whose name starts with ``_``, a variable whose value is used by such a key, or a
      key that a ``_base_`` file defines (MMEngine silently drops unknown keys, so a
      typo such as ``train_cfgg`` in a config or ``--cfg-options`` would train with
      the defaults);
    - ``work_dir`` is not a file;
    - ``train_cfg.max_epochs`` / ``max_iters`` is at least 1;
    - the checkpoint hook's ``save_best`` and early stopping's ``monitor`` name a metric
      the validation evaluator produces (MMEngine fails only after the first epoch).

    Args:
        cfg: the full config.

    Returns:
        ``cfg``, unchanged.

    Raises:
        ConfigError: naming the key and what was expected.
    """
    unread = _unread_keys(cfg)
    if unread:
        hints = []
        for key in unread:
            close = difflib.get_close_matches(key, sorted(RUNNER_KEYS), n=1)
            hints.append(f'{key!r}' + (f' (did you mean {close[0]!r}?)' if close else ''))
        raise ConfigError(
            f'{cfg.filename}: top-level key(s) {", ".join(hints)} are read by nothing: '
            'MMEngine would ignore them. Fix the name, or start a helper variable with "_"')
    work_dir = cfg.get('work_dir')
    if isinstance(work_dir, str) and os.path.exists(work_dir) and not os.path.isdir(work_dir):
        raise ConfigError(f'{cfg.filename}: work_dir={work_dir!r} is a file; expected a '
                          'folder (where logs and checkpoints go)')
    train_cfg = cfg.get('train_cfg')
    if isinstance(train_cfg, dict):
        for key in ('max_epochs', 'max_iters'):
            value = train_cfg.get(key)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f'{cfg.filename}: train_cfg.{key}={value!r}: expected '
                                  'an integer >= 1 (nothing would be trained)')
    hooks = cfg.get('default_hooks') or {}
    checkpoint = hooks.get('checkpoint') if isinstance(hooks, dict) else None
    if isinstance(checkpoint, dict) and checkpoint.get('save_best'):
        best = checkpoint['save_best']
        _check_monitored(cfg, 'default_hooks.checkpoint.save_best',
                         [best] if isinstance(best, str) else list(best))
    monitored = [(f'default_hooks.{name}.monitor', hook) for name, hook in hooks.items()
                 if isinstance(hook, dict)] + \
        [('custom_hooks[].monitor', hook) for hook in cfg.get('custom_hooks') or []]
    for where, hook in monitored:
        if isinstance(hook, dict) and 'EarlyStopping' in str(hook.get('type')) and \
                isinstance(hook.get('monitor'), str):
            _check_monitored(cfg, where, [hook['monitor']])
    return cfg
