"""Speaker names -> speaker indices, by one stable, documented rule.

The rule (:func:`build_speaker_map`):

1. Names are one speaker when they are equal after trimming, collapsing inner
   whitespace and ignoring case (:func:`speaker_key`): ``'m'`` and ``'M'`` are one
   speaker. The name kept is the spelling most frequent in the training split.
2. Only speakers of the training split get an index of their own (a speaker the model
   never saw in training has no trained embedding). The training speakers are ordered
   by their number of training utterances, most first, ties by name; IEMOCAP's two
   speakers ``M``/``F`` are always ``M`` = 0, ``F`` = 1 (the order of the public
   pickles and of :mod:`vega_mm.datasets.formats`).
3. The last index is the shared :data:`OTHER_SPEAKER` when there are more training
   speakers than ``max_speakers`` (then the ``max_speakers - 1`` most frequent keep
   their own), or when some speaker appears only outside training. So a stray name in
   the test split never renumbers anyone, and a rare training name only ever takes the
   last places.

The names, in index order, are stored in the feature file's metadata and the dataset's
metainfo under ``speaker_names``; a trained model reads new conversations with them.
"""
import re
from typing import Dict, Iterable, List, Optional, Tuple

__all__ = ['OTHER_SPEAKER', 'speaker_key', 'build_speaker_map']

#: The name of the index shared by speakers without one of their own.
OTHER_SPEAKER = 'other'
_MF = ('M', 'F')


def speaker_key(name: str) -> str:
    """What two spellings of one speaker have in common: trimmed, inner whitespace
    collapsed, case-folded (``' Rachel  Green'`` and ``'rachel green'`` are one)."""
    return re.sub(r'\s+', ' ', str(name).strip()).casefold()


def build_speaker_map(train_speakers: Iterable[str], all_speakers: Iterable[str],
                      max_speakers: Optional[int] = 9) -> Tuple[Dict[str, int], List[str]]:
    """Speaker name -> index, by the rule of this module's docstring.

    Args:
        train_speakers: the speaker of every training utterance (with repeats: the
            counts decide the order).
        all_speakers: the speakers of every split.
        max_speakers: at most this many indices (None: no limit); at least 2.

    Returns:
        ``(mapping, speaker_names)``: every spelling in ``all_speakers`` -> its index,
        and the name of each index (the last one :data:`OTHER_SPEAKER` when shared).
    """
    if max_speakers is not None and max_speakers < 2:
        raise ValueError(f'max_speakers must be >= 2, got {max_speakers}')
    counts: Dict[str, int] = {}
    spellings: Dict[str, Dict[str, int]] = {}
    for name in train_speakers:
        key = speaker_key(name)
        counts[key] = counts.get(key, 0) + 1
        by_spelling = spellings.setdefault(key, {})
        by_spelling[name] = by_spelling.get(name, 0) + 1
    shown = {k: min(v, key=lambda s: (-v[s], s)) for k, v in spellings.items()}
    everyone = list(all_speakers)
    outsiders = {speaker_key(n) for n in everyone} - set(counts)
    if set(counts) == {'m', 'f'}:
        ranked = ['m', 'f']
        shown.update(m='M', f='F')
    else:
        ranked = sorted(counts, key=lambda k: (-counts[k], k))
    limit = max_speakers if max_speakers is not None else len(ranked) + 1
    if len(ranked) > limit or (outsiders and len(ranked) >= limit):
        kept = ranked[:limit - 1]
    else:
        kept = ranked
    names = [shown[k] for k in kept]
    index = {k: i for i, k in enumerate(kept)}
    if len(kept) < len(ranked) or outsiders:
        names.append(OTHER_SPEAKER)
    other = len(names) - 1
    mapping = {n: index.get(speaker_key(n), other)
               for n in list(everyone) + [s for v in spellings.values() for s in v]}
    return mapping, names
