"""The command behind ``tools/infer.py``: everything after its argument parsing.

:func:`run` takes the parsed options (an :class:`argparse.Namespace` with the tool's
option names) and returns the exit code: it checks what can be checked before the model
loads, builds the :class:`~vega_mm.apis.ConversationInferencer`, turns the command
line's inputs into the inferencer's inputs (:func:`inferencer_inputs`), and writes the
prediction records (``--out`` or JSON lines on stdout), or runs the live mode
(:mod:`vega_mm.apis.live`), one shard of the inputs or the merge of the shards
(:mod:`vega_mm.apis.prediction_parts`).
"""
import argparse
import contextlib
import json
import os
import sys
from typing import IO, Dict, List, Optional, Sequence

from vega_mm.datasets.formats import FEATURES, detect_format
from vega_mm.speech.media import probe_media
from vega_mm.utils.checkpoint import load_runner_checkpoint
from vega_mm.utils.cli import check_config_and_checkpoint, set_threads
from vega_mm.utils.io import check_output_file
from vega_mm.utils.shards import shard_of
from .inferencer import ConversationInferencer
from .live import run_live
from .outputs import check_output_path, write_predictions, write_timelines
from .prediction_parts import PredictionParts, prediction_manifest
from .recording import is_recording

__all__ = ['parse_extractor_options', 'check_infer_options', 'inferencer_inputs', 'run']


def parse_extractor_options(items: Optional[Sequence[str]]) -> Dict[str, dict]:
    """``['text.model=/dir', ...]`` -> ``{'text': {'model': '/dir'}}``.

    Raises:
        ValueError: an item that is not ``MODALITY.KEY=VALUE``.
    """
    out: Dict[str, dict] = {}
    for item in items or []:
        key, sep, value = item.partition('=')
        modality, dot, name = key.partition('.')
        if not sep or not dot or not name:
            raise ValueError(f'--extractor-option {item!r}: expected MODALITY.KEY=VALUE, '
                             'e.g. text.model=/path/to/encoder')
        out.setdefault(modality, {})[name] = value
    return out


def check_infer_options(args: argparse.Namespace) -> None:
    """What can be checked before the model is loaded: outputs and the recording options.

    Raises:
        ValueError / FileNotFoundError naming the option and what was expected.
    """
    check_config_and_checkpoint(args.config, args.checkpoint, 'tools/infer.py')
    if args.out:
        suffix = check_output_path(args.out, '--out')
        if args.live and suffix != '.jsonl':
            raise ValueError(f'--out {args.out!r}: --live writes one JSON line per utterance '
                             'as it is labelled; give a .jsonl file (or no --out: stdout)')
        if suffix in ('.srt', '.vtt') and len(args.inputs) != 1:
            raise ValueError(f'--out {args.out!r}: subtitles hold one conversation; give one '
                             f'input (got {len(args.inputs)}), or write .jsonl/.json/.csv')
    if args.show_dir:
        check_output_file(os.path.join(args.show_dir, 'timeline.png'), '--show-dir')
    recordings = [p for p in args.inputs if is_recording(p)]
    if args.transcript is not None:
        if len(args.inputs) != 1 or len(recordings) != 1:
            raise ValueError(f'--transcript {args.transcript!r} is the transcript of one '
                             f'recording: give exactly one recording as INPUT (got '
                             f'{args.inputs})')
        if not os.path.isfile(args.transcript):
            raise FileNotFoundError(f'--transcript {args.transcript!r} does not exist')
    if args.speakers is not None and args.speakers < 1:
        raise ValueError(f'--speakers {args.speakers}: give at least 1')
    for path in args.inputs:  # before the model loads, not after
        if not os.path.isfile(path):
            what = 'recording' if path in recordings else \
                'INPUT (a conversation table or a feature file)'
            raise FileNotFoundError(f'{what} {path!r} does not exist')
    if args.live not in (None, '-'):
        if not is_recording(args.live):
            raise ValueError(f'--live {args.live!r}: expected a recording (.wav, .mp3, .mp4, '
                             '...) or no value (stdin)')
        info = probe_media(args.live)  # a missing or corrupt file: before any model loads
        if not info['audio']:
            raise ValueError(f'--live {args.live!r}: the recording has no audio stream')
    parse_extractor_options(args.extractor_option)


def inferencer_inputs(paths: Sequence[str], transcript: Optional[str] = None,
                      num_speakers: Optional[int] = None,
                      split: Optional[str] = None) -> List:
    """The command line's input files as :class:`ConversationInferencer` inputs: a
    recording with its ``transcript`` and number of speakers, a feature file with its
    ``split``, any other file as it is."""
    out: List = []
    for path in paths:
        if is_recording(path):
            out.append(dict(recording=path, transcript=transcript, num_speakers=num_speakers))
        elif split and detect_format(path).kind == FEATURES:
            out.append(dict(feature_file=path, split=split))
        else:
            out.append(path)
    return out


def _asr_options(args: argparse.Namespace, threads: int) -> dict:
    """The speech recogniser's settings from the command line."""
    device = 'cuda' if str(args.device).startswith('cuda') else 'cpu'  # CTranslate2's names
    return dict(model=args.asr_model, language=args.language, cpu_threads=threads,
                device=device)


def _part_settings(args: argparse.Namespace) -> dict:
    """The options that change a prediction (recorded in the parts' manifest)."""
    return dict(split=args.split, transcript=args.transcript, asr_model=args.asr_model,
                language=args.language, speakers=args.speakers,
                extractor_option=sorted(args.extractor_option or []),
                cfg_options=dict(args.cfg_options or {}), precision=args.precision)


def _label(inferencer: ConversationInferencer, args: argparse.Namespace,
           paths: Sequence[str], show: bool = True) -> List[dict]:
    inputs = inferencer_inputs(paths, args.transcript, args.speakers, args.split)
    return inferencer(inputs, batch_size=args.batch_size,
                      show_dir=args.show_dir if show else None)


def _run_shard(args: argparse.Namespace, inferencer: ConversationInferencer,
               parts: PredictionParts) -> int:
    """Label the inputs of one shard, storing each at once; inputs done before are
    reused. An input that fails is reported and recorded, the others go on; the exit
    code is then 1."""
    from vega_mm.speech.media import MediaError
    mine = shard_of(args.inputs, args.shard)
    done = reused = 0
    failed = []
    for path in mine:
        if parts.read_predictions(path) is not None:
            reused += 1
            continue
        try:
            preds = _label(inferencer, args, [path], show=False)
            if not preds:
                raise ValueError(f'{path}: no utterance to label')
        except (FileNotFoundError, ValueError, MediaError) as exc:
            failed.append(path)
            parts.write_failure(path, str(exc))
            print(f'error: {exc}', file=sys.stderr, flush=True)
            continue
        parts.write_predictions(path, preds)
        done += 1
        print(f'shard {args.shard}: {path}: {len(preds)} utterances stored', file=sys.stderr,
              flush=True)
    print(f'shard {args.shard}: {len(mine)} of {len(args.inputs)} inputs, {done} labelled, '
          f'{reused} already done, {len(failed)} failed -> {parts.folder}; when every shard '
          'is done: the same command with --merge instead of --shard', file=sys.stderr)
    return 1 if failed else 0


def _write_outputs(args: argparse.Namespace, records: List[dict], classes: List[str],
                   stdout: IO[str]) -> None:
    dialogues = len({r['dialogue_id'] for r in records})
    if args.out:
        write_predictions(records, args.out, classes=classes,
                          info=dict(config=args.config, checkpoint=args.checkpoint,
                                    inputs=args.inputs), what='--out')
    else:
        for r in records:
            stdout.write(json.dumps(r, ensure_ascii=False) + '\n')
        stdout.flush()
    print(f'predicted {len(records)} utterances in {dialogues} dialogue(s) -> '
          f'{args.out or "stdout"}', file=sys.stderr)


def _merge(args: argparse.Namespace, parts: PredictionParts) -> int:
    meta = load_runner_checkpoint(args.checkpoint).get('meta') or {}
    classes = [str(c) for c in (meta.get('dataset_meta') or {}).get('classes') or []]
    records = parts.merged(args.inputs)
    _write_outputs(args, records, classes, sys.stdout)
    if args.show_dir:
        write_timelines(records, classes, args.show_dir)
    return 0


def run(args: argparse.Namespace) -> int:
    """``tools/infer.py`` after parsing (its options as ``args``); returns the exit code.

    Raises:
        FileNotFoundError, ValueError, CheckpointError, MediaError,
        MissingPredictionsError: each naming the file or option.
    """
    check_infer_options(args)  # before the model is loaded
    parts = None
    if args.shard or args.merge:
        parts = PredictionParts(args.out + '.parts')
        try:
            parts.open(prediction_manifest(args.config, args.checkpoint, _part_settings(args)))
        except RuntimeError as exc:  # parts made with another model or other options
            raise ValueError(f'--out {args.out!r}: {exc}') from exc
        if args.merge:
            return _merge(args, parts)
    threads = set_threads(args.threads)
    stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):  # logs to stderr; stdout: predictions
        inferencer = ConversationInferencer(
            args.config, args.checkpoint, device=args.device,
            extractor_options=parse_extractor_options(args.extractor_option),
            cfg_options=args.cfg_options, asr=_asr_options(args, threads),
            precision=args.precision)
        if args.live:
            recording = None if args.live == '-' else args.live
            return run_live(inferencer, args.out, stdout, recording, not args.no_wait,
                            asr=_asr_options(args, threads))
        if parts is not None:
            return _run_shard(args, inferencer, parts)
        records = _label(inferencer, args, args.inputs)
    if not records:
        raise ValueError(f'no utterance to label in {args.inputs}'
                         f'{" (split " + args.split + ")" if args.split else ""}')
    _write_outputs(args, records, inferencer.classes, stdout)
    return 0
