"""Matching emotion class names between anchor files, image folders and datasets."""
from typing import Dict, List, Mapping, Optional, Sequence, Tuple, Union

from vega_mm.structures.meta import KNOWN_DATASETS

__all__ = [
    'EMOTION_ALIASES', 'DATASET_CLASSES', 'IEMOCAP_DEFAULT_MAPPING', 'canonical_emotion',
    'check_distinct_classes', 'resolve_class_order', 'parse_class_list', 'parse_class_mapping'
]

# Canonical name -> accepted spellings (all lower case).
EMOTION_ALIASES: Dict[str, Sequence[str]] = {
    'happy': ('happy', 'happiness', 'joy', 'joyful', 'hap'),
    'sad': ('sad', 'sadness', 'sorrow'),
    'angry': ('angry', 'anger', 'ang', 'mad'),
    'neutral': ('neutral', 'neu', 'calm'),
    'surprise': ('surprise', 'surprised', 'sur'),
    'fear': ('fear', 'fearful', 'afraid', 'scared', 'fea'),
    'disgust': ('disgust', 'disgusted', 'dis'),
    'excited': ('excited', 'excitement', 'exc'),
    'frustration': ('frustration', 'frustrated', 'fru'),
    'contempt': ('contempt',),
}


def canonical_emotion(name: str) -> str:
    """Canonical spelling of an emotion name (case-insensitive, aliases resolved)."""
    key = name.strip().lower()
    for canon, aliases in EMOTION_ALIASES.items():
        if key in aliases:
            return canon
    return key


def check_distinct_classes(names: Sequence[str], source: str) -> None:
    """Refuse two names of one class (``'happy'`` and its alias ``'joy'``): one of them
    would silently never be used.

    Raises:
        ValueError: naming ``source`` and both names.
    """
    seen: Dict[str, str] = {}
    for name in names:
        canon = canonical_emotion(str(name))
        if canon in seen:
            raise ValueError(f'{source}: classes {seen[canon]!r} and {name!r} are the same '
                             f'class ({canon!r}, by name or alias); keep one of them')
        seen[canon] = str(name)


def resolve_class_order(available: Sequence[str],
                        wanted: Sequence[str],
                        mapping: Optional[Mapping[str, str]] = None,
                        source: str = 'anchor file') -> List[int]:
    """For each wanted class, the index of the available class that stands for it.

    Names are compared case-insensitively with aliases (``joy`` == ``happy``).
    ``mapping`` sends a wanted class without its own entry to another class (for
    example ``{'excited': 'happy', 'frustration': 'angry'}``).

    Raises:
        KeyError: listing every wanted class left without a match.
        ValueError: two available names are one class (``happy`` and ``joy``).
    """
    check_distinct_classes(available, source)
    mapping = {canonical_emotion(k): v for k, v in (mapping or {}).items()}
    index = {}
    for i, name in enumerate(available):
        index.setdefault(canonical_emotion(name), i)
    order, missing = [], []
    for name in wanted:
        canon = canonical_emotion(name)
        if canon not in index and canon in mapping:
            canon = canonical_emotion(mapping[canon])
        if canon in index:
            order.append(index[canon])
        else:
            missing.append(name)
    if missing:
        raise KeyError(
            f'{source}: no anchors for class(es) {missing}; it has {list(available)}. '
            'Add images for them or map them to another class '
            "(e.g. class_mapping={'excited': 'happy'}).")
    return order


#: Label orders of the datasets VEGA is published on.
DATASET_CLASSES: Dict[str, Tuple[str, ...]] = {
    name: info['classes'] for name, info in KNOWN_DATASETS.items()}

#: The usual stand-ins for IEMOCAP's classes that face-expression sets do not have.
IEMOCAP_DEFAULT_MAPPING: Dict[str, str] = {'excited': 'happy', 'frustration': 'angry'}


def parse_class_list(spec: Union[None, str, Sequence[str]]) -> Optional[List[str]]:
    """Class names from a dataset preset, a comma-separated string or a sequence.

    ``'iemocap'`` and ``'meld'`` give the published label orders
    (:data:`DATASET_CLASSES`); ``'a,b,c'`` gives ``['a', 'b', 'c']``; ``None`` stays
    ``None`` (meaning: every class found).

    Raises:
        ValueError: on an empty list or a repeated class (after alias resolution).
    """
    if spec is None:
        return None
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key in DATASET_CLASSES:
            return list(DATASET_CLASSES[key])
        names = [s.strip() for s in spec.split(',') if s.strip()]
    else:
        names = [str(s).strip() for s in spec]
    if not names:
        raise ValueError(f'class list {spec!r} is empty; give a dataset name '
                         f'({sorted(DATASET_CLASSES)}) or comma-separated class names')
    seen: Dict[str, str] = {}
    for name in names:
        canon = canonical_emotion(name)
        if canon in seen:
            raise ValueError(f'class list {names}: {seen[canon]!r} and {name!r} are the '
                             f'same class ({canon!r})')
        seen[canon] = name
    return names


def parse_class_mapping(
        spec: Union[None, str, Mapping[str, str], Sequence[str]]) -> Dict[str, str]:
    """A class mapping from a dict, ``'a=b,c=d'`` or a list of ``'a=b'`` items.

    Raises:
        ValueError: on an item that is not ``source=target`` or a class mapped to itself.
    """
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        items = [(str(k), str(v)) for k, v in spec.items()]
    else:
        parts = spec.split(',') if isinstance(spec, str) else list(spec)
        items = []
        for part in parts:
            part = str(part).strip()
            if not part:
                continue
            if part.count('=') != 1 or not all(s.strip() for s in part.split('=')):
                raise ValueError(f'class mapping item {part!r}: expected CLASS=OTHER, '
                                 "e.g. 'excited=happy'")
            src, dst = part.split('=')
            items.append((src.strip(), dst.strip()))
    mapping: Dict[str, str] = {}
    for src, dst in items:
        if canonical_emotion(src) == canonical_emotion(dst):
            raise ValueError(f'class mapping {src!r} -> {dst!r} maps a class to itself')
        mapping[src] = dst
    return mapping
