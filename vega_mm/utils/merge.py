"""The one rule for filling derived values into sub-configs.

A model derives some of its parts' settings (a head's ``num_classes`` from the model's
``classes``, its ``in_channels`` from the backbone's ``hidden_dim``...).  A derived value
fills a key that is unset; an explicit value that agrees is fine; one that contradicts
is an error naming both keys, never silently overridden.
"""
from typing import Any, Dict, Mapping, Optional, Tuple

__all__ = ['merge_derived', 'same_value']


def same_value(a: Any, b: Any) -> bool:
    """Equality of config values, with tuples and lists (and mappings) alike."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return set(a) == set(b) and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    return a == b


def merge_derived(cfg: Optional[Mapping], where: str,
                  derived: Mapping[str, Tuple[Any, str]]) -> Dict[str, Any]:
    """A copy of ``cfg`` with the derived values filled in.

    Args:
        cfg: a sub-config (None: empty).
        where: its config path, for messages (e.g. ``'model.head'``).
        derived: key -> (value, the key it is derived from); a None value is skipped.

    Raises:
        ValueError: an explicit value contradicts a derived one (both keys named).
    """
    out = dict(cfg or {})
    for key, (value, origin) in derived.items():
        if value is None:
            continue
        old = out.get(key)
        if old is None:
            out[key] = value
        elif not same_value(old, value):
            raise ValueError(f'{where}.{key}={old!r} contradicts {origin}={value!r}, from '
                             f'which it is derived; remove one of them')
    return out
