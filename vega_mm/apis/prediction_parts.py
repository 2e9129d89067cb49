"""Inference over many inputs as shards: one stored part per finished input.

``tools/infer.py ... --out preds.jsonl --shard I/N`` labels the inputs (recordings,
tables, feature files) of shard ``I`` (:func:`~vega_mm.utils.shards.shard_of`, by sorted
path) and stores each input's predictions in ``preds.jsonl.parts/`` as soon as it is
done, so a stopped shard resumes where it was; ``--merge`` writes ``--out`` from the
parts of every input, in the order the inputs are given, and refuses while any is
missing.  The parts folder's manifest holds what the predictions depend on (config,
checkpoint digest, options); a run with other settings refuses to mix its parts in.
"""
import json
from typing import Any, Dict, List, Mapping, Optional, Sequence

from vega_mm.features.parts import PartStore
from vega_mm.utils.io import atomic_write_bytes, file_digest

__all__ = ['PredictionParts', 'MissingPredictionsError', 'prediction_manifest']


class MissingPredictionsError(RuntimeError):
    """``--merge`` found inputs without stored predictions."""


def prediction_manifest(config: str, checkpoint: str,
                        settings: Mapping[str, Any]) -> Dict[str, Any]:
    """What the stored predictions depend on: the config's and the checkpoint's
    SHA-256, and the options that change a prediction (``settings``)."""
    return dict(kind='vega_mm.predictions', version=1, config_sha256=file_digest(config),
                checkpoint_sha256=file_digest(checkpoint), settings=dict(settings))


class PredictionParts(PartStore):
    """The parts folder of a sharded inference (``<out>.parts``); one JSON-lines part
    per input, named from the input's path (the parts store of
    :mod:`vega_mm.features.parts` with this serialiser).

    Args:
        folder: the parts folder.
    """

    suffix = '.jsonl'

    def dump(self, path: str, item: str, value: Sequence[dict]) -> None:
        """An input's predictions, after a first line that names the input."""
        lines = [json.dumps(dict(input=item, count=len(value)), ensure_ascii=False)]
        lines += [json.dumps(p, ensure_ascii=False) for p in value]
        atomic_write_bytes(path, ('\n'.join(lines) + '\n').encode('utf-8'))

    def load(self, path: str, item: str) -> Optional[List[dict]]:
        """An input's predictions, or None when the part is not complete."""
        with open(path, encoding='utf-8') as f:
            rows = [json.loads(line) for line in f if line.strip()]
        if not rows or rows[0].get('input') != item or rows[0].get('count') != len(rows) - 1:
            return None
        return rows[1:]

    def write_predictions(self, name: str, predictions: Sequence[dict]) -> None:
        """Store an input's predictions atomically."""
        self.write(name, predictions)

    def read_predictions(self, name: str) -> Optional[List[dict]]:
        """An input's stored predictions, or None when there is no complete part."""
        return self.read(name)

    def write_failure(self, name: str, reason: str) -> None:
        """Record why an input could not be labelled (the merge reports it)."""
        self.write_note(name, 'failed', reason)

    def read_failure(self, name: str) -> Optional[str]:
        return self.read_note(name, 'failed')

    def merged(self, names: Sequence[str]) -> List[dict]:
        """Every input's predictions, in the order of ``names``.

        Raises:
            MissingPredictionsError: some inputs have no stored predictions (naming
                them, with the reason when their shard recorded one).
        """
        found, absent = self.gather(names, note='failed')
        if absent:
            missing = [f'{name} ({reason})' if reason else name
                       for name, reason in absent.items()]
            raise MissingPredictionsError(
                f'{self.folder}: {len(missing)} of {len(names)} inputs have no predictions '
                f'yet: {missing[:5]}{" ..." if len(missing) > 5 else ""}; run their shards '
                'first (a failed input: fix it, or leave it out of the inputs)')
        return [p for preds in found for p in preds]
