"""Writing per-utterance predictions of :class:`~vega_mm.apis.ConversationInferencer`
as ``.jsonl`` (one utterance a line), ``.json`` (a list, with the classes), ``.csv``
(one column per class probability, anchor similarity and branch prediction), or as
subtitles of the recording, ``.srt`` / ``.vtt`` (one cue per utterance: its times, the
speaker and text, and a second line ``[emotion probability]``)."""
import csv
import html
import io
import json
import os.path as osp
import sys
from typing import Dict, List, Optional, Sequence

from vega_mm.conversations.subtitles import (clean_cue_text, format_timestamp,
                                             is_plain_speaker)
from vega_mm.utils.io import atomic_write_bytes, check_output_file

__all__ = ['OUTPUT_SUFFIXES', 'SUBTITLE_SUFFIXES', 'check_output_path', 'write_predictions',
           'flatten_prediction', 'check_timed_predictions', 'subtitle_text', 'write_timelines']

OUTPUT_SUFFIXES = ('.jsonl', '.json', '.csv', '.srt', '.vtt')
#: The outputs that need utterance times.
SUBTITLE_SUFFIXES = ('.srt', '.vtt')
_NESTED = (('pred_scores', 'prob_'), ('anchor_similarity', 'anchor_cos_'),
           ('branch_predictions', 'pred_'))


def check_output_path(path: str, what: str = 'output') -> str:
    """The output suffix; checked, with the folder it goes to
    (:func:`~vega_mm.utils.io.check_output_file`; ``what`` names the path in messages,
    e.g. ``'--out'``), before any work.

    Raises:
        ValueError: an unknown suffix, a path that is a directory, or a folder that
            cannot be created or written.
    """
    suffix = osp.splitext(path)[1].lower()
    if suffix not in OUTPUT_SUFFIXES:
        raise ValueError(f'{path}: the output must end with one of {OUTPUT_SUFFIXES}')
    check_output_file(path, what)
    return suffix


def flatten_prediction(pred: dict) -> dict:
    """One prediction record as a flat row: ``pred_scores['joy']`` -> ``prob_joy``,
    ``anchor_similarity['joy']`` -> ``anchor_cos_joy``, ``branch_predictions['text']``
    -> ``pred_text``."""
    row = {k: v for k, v in pred.items() if k not in dict(_NESTED)}
    for key, prefix in _NESTED:
        for name, value in (pred.get(key) or {}).items():
            row[prefix + name] = value
    return row


def check_timed_predictions(predictions: Sequence[dict], path: str,
                            what: str = 'output') -> None:
    """Predictions a subtitle file can be made of: one conversation, every utterance
    with ``start`` and ``end``.

    Raises:
        ValueError: naming ``what`` (e.g. ``'--out'``), the path and the first record
            without times.
    """
    for i, p in enumerate(predictions):
        if not all(isinstance(p.get(k), (int, float)) for k in ('start', 'end')):
            raise ValueError(
                f'{what} {path!r}: a subtitle file needs utterance times, but the input has '
                f'none (record {i}: dialogue {p.get("dialogue_id")!r}, utterance '
                f'{p.get("utterance_id")!r}); give a transcript with times (.srt/.vtt, or a '
                'table with start/end columns), or write .jsonl/.json/.csv')
    dialogues = list(dict.fromkeys(p.get('dialogue_id') for p in predictions))
    if len(dialogues) > 1:
        raise ValueError(f'{what} {path!r}: a subtitle file is the timeline of one '
                         f'recording, but the predictions hold {len(dialogues)} dialogues '
                         f'({dialogues[:5]}); write one file per conversation')


def subtitle_text(pred: dict, voice_tags: bool = False) -> str:
    """A cue's text: ``'Ross: We were on a break!\\n[anger 0.82]'``.

    The speaker is written ``Name: `` when the subtitle reader
    (:mod:`vega_mm.conversations.subtitles`) reads it back as a name, else
    ``[name]: ``; with ``voice_tags`` (WebVTT) as ``<v name>``.  The text is escaped
    (``&lt;``) in WebVTT, and in SubRip where it would otherwise read as markup.
    """
    text = ' '.join(str(pred.get('text') or '').split())
    speaker = pred.get('speaker')
    speaker = None if speaker is None else ' '.join(str(speaker).split())
    prob = pred.get('pred_score')
    tag = f'[{pred["pred_class"]}' + ('' if prob is None else f' {prob:.2f}') + ']'
    if voice_tags or clean_cue_text(text) != text:  # what a reader would take for markup
        text = html.escape(text, quote=False)
        if speaker:
            text = f'<v {html.escape(speaker, quote=False)}>{text}</v>'
    elif speaker:
        text = f'{speaker}: {text}' if is_plain_speaker(speaker) else f'[{speaker}]: {text}'
    return f'{text}\n{tag}'


def _subtitles(predictions: Sequence[dict], vtt: bool) -> str:
    """The cues, ordered by start time (stable: file order among equal starts)."""
    order = sorted(predictions, key=lambda p: float(p['start']))
    sep = '.' if vtt else ','
    blocks = ['WEBVTT'] if vtt else []
    for k, p in enumerate(order, 1):
        timing = f'{format_timestamp(p["start"], sep)} --> {format_timestamp(p["end"], sep)}'
        blocks.append(('' if vtt else f'{k}\n') + f'{timing}\n{subtitle_text(p, vtt)}')
    return '\n\n'.join(blocks) + '\n'


def write_predictions(predictions: Sequence[dict], path: str,
                      classes: Optional[Sequence[str]] = None,
                      info: Optional[dict] = None, what: str = 'output') -> str:
    """Write predictions to ``path`` (format from its suffix), atomically.

    Args:
        predictions: per-utterance dicts (``ConversationInferencer`` results).
        path: ``.jsonl``, ``.json``, ``.csv``, or ``.srt``/``.vtt`` (one conversation
            whose utterances have times; one cue per utterance, see
            :func:`subtitle_text`).
        classes: recorded in ``.json`` output.
        info: more top-level entries of ``.json`` output (config, checkpoint, input).
        what: how messages name ``path`` (e.g. ``'--out'``).

    Raises:
        ValueError: an unknown suffix, an unwritable path, or subtitles of predictions
            without times (:func:`check_timed_predictions`); nothing is written then.
    """
    suffix = check_output_path(path, what)
    f = io.StringIO(newline='')
    if suffix in SUBTITLE_SUFFIXES:
        check_timed_predictions(predictions, path, what)
        f.write(_subtitles(predictions, suffix == '.vtt'))
    elif suffix == '.jsonl':
        for p in predictions:
            f.write(json.dumps(p, ensure_ascii=False) + '\n')
    elif suffix == '.json':
        json.dump(dict(info or {}, classes=list(classes or []),
                       predictions=list(predictions)), f, ensure_ascii=False, indent=1)
    else:
        rows: List[dict] = [flatten_prediction(p) for p in predictions]
        fields: List[str] = []
        for r in rows:
            fields.extend(k for k in r if k not in fields)
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    atomic_write_bytes(path, f.getvalue().encode('utf-8'))  # never half a file
    return path


def write_timelines(records: Sequence[dict], classes: Sequence[str],
                    show_dir: str) -> List[Optional[str]]:
    """The emotion timeline (:func:`~vega_mm.analysis.plot_emotion_timeline`) of every
    conversation of ``records`` whose utterances have times, as
    ``show_dir/<dialogue_id>_timeline.png``; a conversation without times is named on
    stderr and gets none.

    Returns:
        Per conversation, in order of first appearance: its picture, or None.
    """
    from vega_mm.analysis import plot_emotion_timeline
    by_dialogue: Dict[str, list] = {}
    for r in records:
        by_dialogue.setdefault(str(r.get('dialogue_id')), []).append(r)
    written: List[Optional[str]] = []
    for dialogue_id, mine in by_dialogue.items():
        if any(not isinstance(r.get(k), (int, float)) for r in mine for k in ('start', 'end')):
            print(f'show_dir: {dialogue_id!r} has no utterance times: no timeline',
                  file=sys.stderr)
            written.append(None)
            continue
        safe = ''.join(c if c.isalnum() or c in '-_.' else '_' for c in dialogue_id)
        written.append(plot_emotion_timeline(mine, classes,
                                             osp.join(show_dir, f'{safe}_timeline.png'),
                                             title=dialogue_id))
        print(f'timeline -> {written[-1]}', file=sys.stderr)
    return written
