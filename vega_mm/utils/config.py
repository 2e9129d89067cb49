"""Config-level derivations and checks that MMEngine's merging cannot express."""
import difflib
import inspect
import os
from typing import Any, Callable, Iterator, List, Mapping, Optional, Sequence, Set

from mmengine.config import Config, ConfigDict

from vega_mm.structures.meta import HEADLINE_METRICS, MODALITIES

__all__ = ['apply_modalities', 'check_config', 'check_overrides', 'merge_overrides',
           'ConfigError', 'RUNNER_KEYS']

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


#: The class MMEngine builds for a runner key given without ``type``.
_IMPLICIT_TYPES = {'train_cfg': 'EpochBasedTrainLoop', 'val_cfg': 'ValLoop',
                   'test_cfg': 'TestLoop', 'optim_wrapper': 'OptimWrapper'}


def _lookup_type(kind: Any) -> Optional[Callable]:
    """The class (or function) a config's ``type`` names, searched in vega_mm's
    registries (and through them MMEngine's and mmpretrain's); None if not found."""
    if not isinstance(kind, str):
        return kind if callable(kind) else None
    from mmengine.registry import Registry

    from vega_mm import registry
    from vega_mm.utils.mmcv_lite import quiet_mmcv_lite
    for reg in vars(registry).values():
        if not isinstance(reg, Registry):
            continue
        try:
            # a lookup may import mmpretrain's models (its scope): vega_mm's own import
            with quiet_mmcv_lite():
                found = reg.get(kind)
        except Exception:  # noqa: BLE001 - a scope that cannot be imported: not this one
            found = None
        if found is not None:
            return found
    return None


def _arguments(target: Callable) -> Optional[Set[str]]:
    """The keyword arguments ``target`` takes, or None when it takes any (``**kwargs``)
    or its signature cannot be read."""
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {p.name for p in params
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != 'self'}


def _paths_holding(node: Any, value: Any, prefix: str) -> List[str]:
    """Dotted paths under ``node`` whose value is ``value`` (a string: holds it)."""
    found = []
    items = node.items() if isinstance(node, dict) else \
        enumerate(node) if isinstance(node, (list, tuple)) else ()
    for key, child in items:
        path = f'{prefix}.{key}'
        if (isinstance(value, str) and isinstance(child, str) and len(value) > 1 and
                value in child) or (not isinstance(value, str) and child == value and
                                    type(child) is type(value)):
            found.append(path)
        else:
            found += _paths_holding(child, value, path)
    return found


def _cli_value(value: Any) -> str:
    """A value as ``--cfg-options`` takes it back (no spaces: one shell word)."""
    if isinstance(value, (list, tuple)):
        inner = ','.join(_cli_value(v) for v in value)
        return f'[{inner}]' if isinstance(value, list) else f'({inner})'
    return str(value)


def _file_variable_error(cfg: Config, key: str, value: Any) -> ConfigError:
    """The refusal of an override of a top-level variable that only feeds other keys."""
    parts = key.split('.')
    node: Any = cfg.get(parts[0])
    for part in parts[1:]:
        node = node.get(part) if isinstance(node, dict) else None
    fed = [] if node is None else [
        p for top in cfg.keys() if top in RUNNER_KEYS
        for p in _paths_holding(cfg[top], node, top)]
    name = cfg.filename or 'the config'
    if fed:
        shown = ' '.join(f'{p}={_cli_value(value)}' for p in fed[:6]) + (
            ' ...' if len(fed) > 6 else '')
        advice = f'set the keys it fed instead: --cfg-options {shown}'
    else:
        advice = 'it feeds no key the runner reads; set the key you meant directly'
    return ConfigError(
        f'--cfg-options {key}={_cli_value(value)}: {parts[0]!r} is a variable of {name}, read only '
        f'while that file is parsed, so overriding it changes nothing; {advice}')


def check_overrides(cfg: Config, options: Optional[Mapping[str, Any]]) -> None:
    """Refuse ``--cfg-options`` that would change nothing or fail only once the runner
    is built, before anything is built.

    - A top-level key that no runner part reads: a variable of the config file such as
      ``data_root`` (it fed other keys while the file was parsed; the message names
      those keys, e.g. ``train_dataloader.dataset.data_root``, to set instead), or a
      misspelt key (with the closest runner key).
    - A nested key that the config does not set and the class it configures does not
      take (``train_cfg.max_epoch``, ``model.backbon.causal``): the closest argument the
      class takes. Classes that take ``**kwargs`` are not checked.

    Args:
        cfg: the config the options are to be merged into (not yet merged).
        options: ``--cfg-options`` as MMEngine's ``DictAction`` parsed them.

    Raises:
        ConfigError: naming the option and what to set instead.
    """
    for key, value in (options or {}).items():
        parts = str(key).split('.')
        top = parts[0]
        if top not in RUNNER_KEYS:
            if top in cfg:
                raise _file_variable_error(cfg, key, value)
            close = difflib.get_close_matches(top, sorted(RUNNER_KEYS), n=1)
            hint = f' (did you mean {close[0]!r}?)' if close else ''
            raise ConfigError(f'--cfg-options {key}={_cli_value(value)}: top-level key '
                              f'{top!r}{hint} is read by nothing: MMEngine would ignore it')
        node: Any = cfg.get(top)
        for depth, part in enumerate(parts[1:], start=1):
            if not isinstance(node, dict):
                break
            if part in node:
                node = node[part]
                continue
            where = '.'.join(parts[:depth])
            kind = node.get('type', _IMPLICIT_TYPES.get(where))
            target = _lookup_type(kind) if kind is not None else None
            accepted = _arguments(target) if target is not None else None
            if accepted is None or part in accepted:
                break
            choices = sorted((accepted - {'runner', 'dataloader'}) | {'type'})
            close = difflib.get_close_matches(part, choices, n=1)
            hint = f' (did you mean {where}.{close[0]}?)' if close else ''
            raise ConfigError(
                f'--cfg-options {key}={_cli_value(value)}: {where} builds '
                f'{getattr(target, "__name__", kind)}, which takes no argument '
                f'{part!r}{hint}; it takes {", ".join(choices)}')


def merge_overrides(cfg: Config, options: Optional[Mapping[str, Any]]) -> Config:
    """:func:`check_overrides`, then merge ``options`` into ``cfg`` (in place).

    Returns:
        ``cfg``.
    """
    if options:
        check_overrides(cfg, options)
        cfg.merge_from_dict(dict(options))
    return cfg
