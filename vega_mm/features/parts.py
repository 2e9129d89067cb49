"""The resumable store of an extraction: one small ``.npz`` per finished dialogue.

A parts folder (default ``<out>.parts/``) holds

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
from typing import Any, Dict, Mapping, Optional, Sequence

import numpy as np

from vega_mm.datasets.formats import Dialogue
from vega_mm.utils.io import atomic_savez, atomic_write_json

__all__ = ['PartStore', 'part_name', 'MANIFEST_VERSION']

#: Version of the parts layout, recorded in the manifest.
MANIFEST_VERSION = 1


def part_name(dialogue_id: str) -> str:
    """File name of a dialogue's part: readable prefix + hash (ids may hold any
    character, and two ids must never share a file)."""
    safe = ''.join(c if c.isalnum() or c in '-_' else '_' for c in dialogue_id)[:40]
    return f'{safe}-{hashlib.sha1(dialogue_id.encode()).hexdigest()[:10]}.npz'


class PartStore:
    """The parts folder of one extraction.

    Args:
        folder: the parts folder (created by :meth:`open`).
    """

    def __init__(self, folder: str) -> None:
        self.folder = os.fspath(folder)

    @property
    def manifest_path(self) -> str:
        return os.path.join(self.folder, 'manifest.json')

    @property
    def extractors_path(self) -> str:
        return os.path.join(self.folder, 'extractors.json')

    def path(self, dialogue_id: str) -> str:
        """Where a dialogue's part is stored."""
        return os.path.join(self.folder, part_name(dialogue_id))

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
            n.endswith(('.npz', '.json')) and not n.startswith('.') and n != 'manifest.json'
            for n in os.listdir(self.folder))

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

    def write(self, dialogue: Dialogue, feats: Mapping[str, np.ndarray]) -> None:
        """Store one finished dialogue's features (modality -> [L, D]) atomically."""
        arrays = {f'feat_{m}': np.asarray(x, dtype=np.float32) for m, x in feats.items()}
        arrays['utterance_ids'] = np.asarray([u.utterance_id for u in dialogue.utterances])
        arrays['dialogue_id'] = np.asarray(dialogue.dialogue_id)
        atomic_savez(self.path(dialogue.dialogue_id), arrays)

    def read(self, dialogue: Dialogue,
             modalities: Sequence[str]) -> Optional[Dict[str, np.ndarray]]:
        """A finished dialogue's features (modality -> [L, D]), or None if its part is
        absent, unreadable or made for other utterances (it is then extracted again)."""
        path = self.path(dialogue.dialogue_id)
        if not os.path.isfile(path):
            return None
        try:
            with np.load(path, allow_pickle=False) as npz:
                if str(npz['dialogue_id'][()]) != dialogue.dialogue_id:
                    return None
                if [str(x) for x in npz['utterance_ids']] != \
                        [u.utterance_id for u in dialogue.utterances]:
                    return None
                feats = {m: npz[f'feat_{m}'] for m in modalities}
        except (OSError, KeyError, ValueError, EOFError):
            return None
        if any(len(x) != len(dialogue) for x in feats.values()):
            return None
        return feats

    def skipped_path(self, dialogue_id: str) -> str:
        """Where the reason a dialogue was skipped is stored."""
        return self.path(dialogue_id)[:-len('.npz')] + '.skipped.json'

    def write_skipped(self, dialogue: Dialogue, reason: str) -> None:
        """Record that a dialogue was left out (its media could not be used) and why."""
        atomic_write_json(self.skipped_path(dialogue.dialogue_id),
                          dict(dialogue_id=dialogue.dialogue_id, reason=reason))

    def read_skipped(self, dialogue: Dialogue) -> Optional[str]:
        """The reason recorded by :meth:`write_skipped`, or None."""
        path = self.skipped_path(dialogue.dialogue_id)
        if not os.path.isfile(path):
            return None
        with open(path) as f:
            record = json.load(f)
        return record['reason'] if record.get('dialogue_id') == dialogue.dialogue_id \
            else None

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
