"""The resumable parts store: one file per finished item, a manifest of the settings.

One store serves every job that is split into items and resumed (extraction: one part
per dialogue; sharded inference: :class:`~vega_mm.apis.prediction_parts.PredictionParts`,
one part per input); each job has its own serialiser (:meth:`PartStore.dump` and
:meth:`PartStore.load`, with the part file's :attr:`PartStore.suffix`).

An extraction's parts folder (default ``<out>.parts/``) holds

- ``<dialogue>-<sha1>.npz``: a finished dialogue's features (``feat_<modality>``
  float32 [L, D]), its ``utterance_ids`` and ``dialogue_id``, each written atomically;
- ``manifest.json``: the settings and tables the parts were made with; a run with other
  settings refuses to mix its parts with these (or, asked to, starts over);
- ``<dialogue>-<sha1>.skipped.json``: why a dialogue was left out (media that could
  not be used, with ``on_missing_media='skip'``), so that assembling after a sharded
  run leaves it out as a single run does;
- ``extractors.json``: the extractors' :meth:`~vega_mm.features.base.BaseFeatureExtractor.config`
  records, so that assembling needs no extractor once every part is there;
- ``text_encoder_finetuned/``: a fine-tuned text encoder, when one was asked for.
"""
import hashlib
import json
import os
import shutil
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from vega_mm.conversations import Dialogue
from vega_mm.utils.io import atomic_savez, atomic_write_json

__all__ = ['PartStore', 'part_name', 'MANIFEST_VERSION']

Item = Union[Dialogue, str]

#: Version of the parts layout, recorded in the manifest.
MANIFEST_VERSION = 1


def part_name(key: str, suffix: str = '.npz') -> str:
    """File name of an item's part: readable prefix + hash (keys may hold any
    character, and two keys must never share a file)."""
    safe = ''.join(c if c.isalnum() or c in '-_' else '_' for c in key)[:40]
    return f'{safe}-{hashlib.sha1(key.encode()).hexdigest()[:10]}{suffix}'


class PartStore:
    """A parts folder: the manifest, one part per finished item, notes on items left out.

    An item is a :class:`~vega_mm.conversations.Dialogue` (keyed by its id) or a
    name (a string). The serialiser of this class stores a dialogue's features; a
    subclass stores other parts by overriding :attr:`suffix`, :meth:`dump` and
    :meth:`load`.

    Args:
        folder: the parts folder (created by :meth:`open`).
    """

    #: The suffix of a part file (the serialiser's).
    suffix = '.npz'

    def __init__(self, folder: str) -> None:
        self.folder = os.fspath(folder)

    @staticmethod
    def key(item: Item) -> str:
        """The key of an item: a dialogue's id, or the name itself."""
        return item.dialogue_id if isinstance(item, Dialogue) else str(item)

    @property
    def manifest_path(self) -> str:
        return os.path.join(self.folder, 'manifest.json')

    @property
    def extractors_path(self) -> str:
        return os.path.join(self.folder, 'extractors.json')

    def path(self, item: Item) -> str:
        """Where an item's part is stored."""
        return os.path.join(self.folder, part_name(self.key(item), self.suffix))

    def note_path(self, item: Item, kind: str) -> str:
        """Where a note of ``kind`` (``'skipped'``, ``'failed'``) on an item is stored."""
        return os.path.join(self.folder, part_name(self.key(item), f'.{kind}.json'))

    def open(self, manifest: Mapping[str, Any], overwrite: bool = False) -> None:
        """Make the folder ready for parts made with ``manifest``'s settings.

        Parts already there are kept when their manifest equals ``manifest``.  Safe for
        processes starting at the same time on one folder (shards): the manifest is
        created once, atomically and exclusively (a hard link of a complete file), and
        every other process compares its own settings with it.

        Args:
            manifest: JSON-serialisable settings and tables of this extraction.
            overwrite: discard parts made with other settings instead of failing (never
                while other processes use the folder: it deletes their parts).

        Raises:
            RuntimeError: the folder holds parts made with other settings (naming the
                keys that differ) and ``overwrite`` is False.
        """
        want = json.loads(json.dumps(manifest))  # compare as stored (lists, str keys)
        old = self._read_manifest()
        if old is None and self._has_parts():
            # parts are written after the manifest: another process may have made both
            # since the first look; parts without any manifest are not ours
            old = self._read_manifest() or {}
        if old is not None and old != want:
            if not overwrite:
                self._refuse(old, want)
            shutil.rmtree(self.folder)
            old = None
        os.makedirs(self.folder, exist_ok=True)
        if old is None and not self._create_manifest(want):
            other = self._read_manifest()  # another process created it first
            if other != want:
                self._refuse(other, want)

    def _read_manifest(self) -> Optional[Dict[str, Any]]:
        if not os.path.isfile(self.manifest_path):
            return None
        with open(self.manifest_path) as f:
            return json.load(f)

    def _has_parts(self) -> bool:
        # hidden names are temporary files, e.g. another process's manifest being made
        return os.path.isdir(self.folder) and any(
            n.endswith((self.suffix, '.json')) and not n.startswith('.')
            and n != 'manifest.json' for n in os.listdir(self.folder))

    def _refuse(self, old: Optional[Mapping[str, Any]], want: Mapping[str, Any]) -> None:
        diff = sorted(k for k in want if not old or old.get(k) != want[k])
        raise RuntimeError(
            f'{self.folder} holds parts made with other settings or tables (differs in: '
            f'{diff}); pass overwrite=True (--overwrite) to start over, or write to '
            'another output')

    def _create_manifest(self, manifest: Mapping[str, Any]) -> bool:
        """Write the manifest unless it exists; False when another process made it."""
        tmp = atomic_write_json(os.path.join(self.folder, f'.manifest.{os.getpid()}.json'),
                                manifest, indent=1)
        try:
            os.link(tmp, self.manifest_path)  # fails if it exists: exclusive and whole
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links: last writer wins
            os.replace(tmp, self.manifest_path)
            return True
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)
        return True

    # ------------------------------------------------------------------ parts
    def write(self, item: Item, value: Any) -> None:
        """Store an item's part (atomically) and forget any failure noted on it."""
        self.dump(self.path(item), item, value)
        failed = self.note_path(item, 'failed')
        if os.path.exists(failed):
            os.remove(failed)

    def read(self, item: Item, *args: Any) -> Any:
        """An item's part, or None if it is absent, unreadable or not the item's (it is
        then made again); ``args`` go to :meth:`load`."""
        path = self.path(item)
        if not os.path.isfile(path):
            return None
        try:
            return self.load(path, item, *args)
        except (OSError, KeyError, ValueError, EOFError):
            return None

    def gather(self, items: Sequence[Item], *args: Any,
               note: str = 'skipped') -> Tuple[List[Any], Dict[str, Optional[str]]]:
        """The parts of ``items`` that are stored, in order, and the keys of the others
        with the reason noted on each (kind ``note``; None where there is none)."""
        found, absent = [], {}
        for item in items:
            value = self.read(item, *args)
            if value is None:
                absent[self.key(item)] = self.read_note(item, note)
            else:
                found.append(value)
        return found, absent

    # --------------------------------------------- the serialiser (dialogue features)
    def dump(self, path: str, item: Item, value: Any) -> None:
        """Write one part: here a dialogue's features (modality -> [L, D]), its
        utterance ids and its id, in an ``.npz`` (atomically)."""
        arrays = {f'feat_{m}': np.asarray(x, dtype=np.float32) for m, x in value.items()}
        arrays['utterance_ids'] = np.asarray([u.utterance_id for u in item.utterances])
        arrays['dialogue_id'] = np.asarray(item.dialogue_id)
        atomic_savez(path, arrays)

    def load(self, path: str, item: Item, modalities: Sequence[str] = ()) -> Any:
        """Read one part: here the features of ``modalities`` (modality -> [L, D]), or
        None when the part was made for other utterances."""
        with np.load(path, allow_pickle=False) as npz:
            if str(npz['dialogue_id'][()]) != item.dialogue_id:
                return None
            if [str(x) for x in npz['utterance_ids']] != \
                    [u.utterance_id for u in item.utterances]:
                return None
            feats = {m: npz[f'feat_{m}'] for m in modalities}
        if any(len(x) != len(item) for x in feats.values()):
            return None
        return feats

    # ------------------------------------------------------------------ notes
    def write_note(self, item: Item, kind: str, reason: str) -> None:
        """Record why an item was left out (``kind``: ``'skipped'``, ``'failed'``)."""
        atomic_write_json(self.note_path(item, kind), dict(key=self.key(item), reason=reason))

    def read_note(self, item: Item, kind: str) -> Optional[str]:
        """The reason recorded by :meth:`write_note`, or None."""
        path = self.note_path(item, kind)
        if not os.path.isfile(path):
            return None
        with open(path, encoding='utf-8') as f:
            record = json.load(f)
        # notes of earlier versions name the item 'dialogue_id' or 'input'
        key = record.get('key', record.get('dialogue_id', record.get('input')))
        return record.get('reason') if key == self.key(item) else None

    def write_skipped(self, dialogue: Dialogue, reason: str) -> None:
        """Record that a dialogue was left out (its media could not be used) and why."""
        self.write_note(dialogue, 'skipped', reason)

    def read_skipped(self, dialogue: Dialogue) -> Optional[str]:
        """The reason recorded by :meth:`write_skipped`, or None."""
        return self.read_note(dialogue, 'skipped')

    def has_extractor_configs(self) -> bool:
        return os.path.isfile(self.extractors_path)

    def write_extractor_configs(self, configs: Mapping[str, Any]) -> None:
        """Record the extractors' settings (modality -> config record)."""
        atomic_write_json(self.extractors_path, configs, indent=1)

    def read_extractor_configs(self) -> Dict[str, Any]:
        """The settings recorded by :meth:`write_extractor_configs`."""
        with open(self.extractors_path) as f:
            return json.load(f)

    def remove(self) -> None:
        """Delete the folder and everything in it."""
        shutil.rmtree(self.folder, ignore_errors=True)

    def discard_if_unused(self) -> bool:
        """Delete the folder if it holds nothing but its manifest (and lock or temporary
        files), e.g. after a run that failed before its first part; True if deleted.

        A folder with any part, skipped record, extractor record or fine-tuned encoder
        is kept: that is work a rerun resumes from."""
        if not os.path.isdir(self.folder):
            return False
        names = [n for n in os.listdir(self.folder)
                 if n != 'manifest.json' and not n.startswith('.') and not n.endswith('.lock')]
        if names:
            return False
        self.remove()
        return True
