"""Label every utterance of conversations with a trained model.

    python tools/infer.py CONFIG CHECKPOINT INPUT [INPUT ...] [--out predictions.jsonl]

INPUT is a conversation table (.csv/.tsv/.jsonl with the columns tools/extract_features.py
reads: dialogue id, utterance id, speaker, text, optional label/media/start/end), encoded
as the checkpoint's recipe says, or a feature file (.npz/.pkl; --split picks one split);
which one is told by vega_mm.datasets.formats.detect_format.
--out is .jsonl, .json or .csv; without it the predictions go to standard output as JSON
lines (one utterance a line) and every log line goes to standard error.

--live reads utterances line by line from stdin ("speaker: text") and labels each one as
it arrives (a causal model never changes an earlier answer), writing each prediction at
once as a flushed JSON line (to --out, which must then be .jsonl, or to stdout) and a
readable line to stderr. A line it cannot read (bytes that are not UTF-8, an empty text,
an unknown speaker) is reported on stderr with its line number and skipped. Ctrl-C
(SIGINT) or SIGTERM end it cleanly: every line labelled so far is in the output, and the
exit code is 130 or 143 (128 + the signal number), 0 at the end of the input.

A recording (.wav/.mp3/.flac/.mp4/.mkv/...; vega_mm.apis.recording) is one conversation:
its utterances come from --transcript (.srt/.vtt, or a .csv/.jsonl with start/end) or
are found by voice-activity detection and transcribed by Whisper (--asr-model: a
faster-whisper name, a local CTranslate2 folder, default Whisper base assembled from its
pip packages). Speakers come from the transcript, else one per recording, or --speakers N
voices told apart by clustering. --out .srt/.vtt writes subtitles with the emotion in each
cue, and --show-dir DIR a timeline picture per conversation with utterance times.
--live RECORDING replays a recording in real time (--no-wait: as fast as possible) and
labels each utterance when the voice-activity detection closes it.

--shard I/N labels the inputs of shard I (by sorted path), storing each input's
predictions in OUT.parts/ when it is done (a rerun resumes); --merge then writes --out
from every input's part (docs/recordings.md).

--cfg-options KEY=VALUE ... overrides the config before the model is built, e.g.
model.backbone.max_len=2048 for a dialogue longer than the configured maximum.
Replaces tools/predict.py.
"""
import argparse
import contextlib
import json
import os
import signal
import sys
from typing import IO, Dict, Iterator, List, Optional, Union

from mmengine.config import DictAction

from vega_mm.apis import ConversationInferencer
from vega_mm.apis.outputs import check_output_path, write_predictions
from vega_mm.apis.prediction_parts import (MissingPredictionsError, PredictionParts,
                                           prediction_manifest)
from vega_mm.apis.recording import is_recording
from vega_mm.datasets.formats import FEATURES, detect_format, load_conversations
from vega_mm.features.media import MediaError, probe_media
from vega_mm.utils import CheckpointError
from vega_mm.utils.checkpoint import load_runner_checkpoint
from vega_mm.utils.cli import set_threads
from vega_mm.utils.io import check_output_file
from vega_mm.utils.shards import parse_shard, shard_of


def parse_options(items) -> Dict[str, dict]:
    """``['text.model=/dir', ...]`` -> ``{'text': {'model': '/dir'}}``."""
    out: Dict[str, dict] = {}
    for item in items or []:
        key, sep, value = item.partition('=')
        modality, dot, name = key.partition('.')
        if not sep or not dot or not name:
            raise SystemExit(f'--extractor-option {item!r}: expected MODALITY.KEY=VALUE, e.g. '
                             'text.model=/path/to/encoder')
        out.setdefault(modality, {})[name] = value
    return out


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('inputs', nargs='*',
                        help='conversation tables, feature files or recordings')
    parser.add_argument('--out', help='.jsonl, .json, .csv, .srt or .vtt (default: JSON lines '
                        'on stdout)')
    parser.add_argument('--transcript', help='the transcript of the one recording given: '
                        '.srt, .vtt, or .csv/.jsonl with start/end (instead of speech '
                        'recognition)')
    parser.add_argument('--asr-model', default='base',
                        help='speech recognition for recordings without a transcript: a '
                        'faster-whisper model name or a local folder (default: base)')
    parser.add_argument('--language', help='the language spoken, e.g. en (default: '
                        'detected by Whisper)')
    parser.add_argument('--speakers', type=int, metavar='N',
                        help='tell N voices apart in recordings whose transcript names no '
                        'speakers (default: one speaker)')
    parser.add_argument('--show-dir', help='write a timeline picture per conversation here')
    parser.add_argument('--threads', type=int,
                        help='CPU threads (default: OMP_NUM_THREADS, else 1)')
    jobs = parser.add_mutually_exclusive_group()
    jobs.add_argument('--shard', metavar='I/N',
                      help='label only shard I of N of the inputs (by sorted path) into '
                      'OUT.parts/, one part per input (resumable); shards may run at once')
    jobs.add_argument('--merge', action='store_true',
                      help='write --out from the parts of finished shards (no model runs)')
    parser.add_argument('--split', choices=['train', 'val', 'test'],
                        help='only this split of feature files')
    parser.add_argument('--live', nargs='?', const='-', metavar='RECORDING',
                        help='label each utterance as it arrives: "speaker: text" lines '
                        'from stdin, or a recording replayed in real time')
    parser.add_argument('--no-wait', action='store_true',
                        help='--live RECORDING: replay as fast as possible')
    parser.add_argument('--extractor-option', action='append', metavar='MODALITY.KEY=VALUE',
                        help='replace a recorded extractor setting, e.g. '
                        'text.model=/local/copy/of/the/encoder')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config before the model is built, '
                        'e.g. model.backbone.max_len=2048')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch-size', type=int, default=16, help='dialogues per batch')
    args = parser.parse_intermixed_args()  # inputs may follow options
    if not args.live and not args.inputs:
        parser.error('give INPUT files or --live')
    if args.live and args.inputs:
        parser.error(f'--live labels stdin or one recording (--live RECORDING), not INPUT '
                     f'files ({args.inputs})')
    if (args.shard or args.merge) and (args.live or not args.out):
        parser.error('--shard and --merge need --out (the parts go to OUT.parts/) and no '
                     '--live')
    if args.shard:
        try:
            parse_shard(args.shard)
        except ValueError as exc:
            parser.error(f'--{exc}')
    return args


def main() -> None:
    args = parse_args()
    try:
        code = run(args)
    except (FileNotFoundError, CheckpointError, ValueError, MediaError,
            MissingPredictionsError) as exc:
        # the checkpoint, an input file, the config, the recipe, a recording: each
        # message names it
        raise SystemExit(f'error: {exc}')
    if code:
        raise SystemExit(code)


def check_args(args: argparse.Namespace) -> None:
    """What can be checked before the model is loaded: outputs and the recording options."""
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
    for path in recordings:
        if not os.path.isfile(path):
            raise FileNotFoundError(f'recording {path!r} does not exist')
    if args.live not in (None, '-'):
        if not is_recording(args.live):
            raise ValueError(f'--live {args.live!r}: expected a recording (.wav, .mp3, .mp4, '
                             '...) or no value (stdin)')
        info = probe_media(args.live)  # a missing or corrupt file: before any model loads
        if not info['audio']:
            raise ValueError(f'--live {args.live!r}: the recording has no audio stream')


def asr_options(args: argparse.Namespace, threads: int) -> dict:
    """The speech recogniser's settings from the command line."""
    device = 'cuda' if str(args.device).startswith('cuda') else 'cpu'  # CTranslate2's names
    return dict(model=args.asr_model, language=args.language, cpu_threads=threads,
                device=device)


def gather_inputs(args: argparse.Namespace, inferencer: ConversationInferencer) -> list:
    """The command line's inputs as the inferencer takes them: recordings become their
    conversations (transcribed or read from --transcript) here, so notes go to stderr."""
    inputs = []
    for path in args.inputs:
        if is_recording(path):
            print(f'{path}: finding the utterances'
                  f'{" in " + args.transcript if args.transcript else " (speech recognition)"}'
                  ' ...', file=sys.stderr, flush=True)
            dialogue = inferencer.recording(path, transcript=args.transcript,
                                            num_speakers=args.speakers,
                                            log=lambda s: print(s, file=sys.stderr))
            print(f'{path}: {len(dialogue)} utterances', file=sys.stderr, flush=True)
            inputs.append(dialogue)
        elif args.split and detect_format(path).kind == FEATURES:
            inputs.extend(load_conversations(path).get_split(args.split))
        else:
            inputs.append(path)
    return inputs


def show_timelines(predictions: list, classes: list, show_dir: str) -> List[str]:
    """A timeline picture per conversation whose utterances have times."""
    from vega_mm.analysis import plot_emotion_timeline
    written = []
    by_dialogue: Dict[str, list] = {}
    for p in predictions:
        by_dialogue.setdefault(p['dialogue_id'], []).append(p)
    for dialogue_id, records in by_dialogue.items():
        if any(r.get('start') is None or r.get('end') is None for r in records):
            print(f'--show-dir: {dialogue_id!r} has no utterance times: no timeline',
                  file=sys.stderr)
            continue
        safe = ''.join(c if c.isalnum() or c in '-_.' else '_' for c in str(dialogue_id))
        written.append(plot_emotion_timeline(
            records, classes, os.path.join(show_dir, f'{safe}_timeline.png'),
            title=str(dialogue_id)))
    return written


def part_settings(args: argparse.Namespace) -> dict:
    """The options that change a prediction (recorded in the parts' manifest)."""
    return dict(split=args.split, transcript=args.transcript, asr_model=args.asr_model,
                language=args.language, speakers=args.speakers,
                extractor_option=sorted(args.extractor_option or []),
                cfg_options=dict(args.cfg_options or {}))


def run_shard(args: argparse.Namespace, inferencer: ConversationInferencer,
              parts: PredictionParts) -> int:
    """Label the inputs of one shard, storing each at once; inputs done before are
    reused. An input that fails is reported and recorded, the others go on; the exit
    code is then 1."""
    mine = shard_of(args.inputs, args.shard)
    done = reused = 0
    failed = []
    for path in mine:
        if parts.read_predictions(path) is not None:
            reused += 1
            continue
        try:
            one = argparse.Namespace(**{**vars(args), 'inputs': [path]})
            preds = inferencer(gather_inputs(one, inferencer), batch_size=args.batch_size)
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


def write_outputs(args: argparse.Namespace, predictions: list, classes: list,
                  stdout: IO[str]) -> None:
    dialogues = len({p['dialogue_id'] for p in predictions})
    if args.out:
        write_predictions(predictions, args.out, classes=classes,
                          info=dict(config=args.config, checkpoint=args.checkpoint,
                                    inputs=args.inputs), what='--out')
    else:
        for p in predictions:
            stdout.write(json.dumps(p, ensure_ascii=False) + '\n')
        stdout.flush()
    print(f'predicted {len(predictions)} utterances in {dialogues} dialogue(s) -> '
          f'{args.out or "stdout"}', file=sys.stderr)
    if args.show_dir:
        for path in show_timelines(predictions, classes, args.show_dir):
            print(f'timeline -> {path}', file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Everything after parsing; returns the exit code."""
    check_args(args)  # before the model is loaded
    if args.shard or args.merge:
        parts = PredictionParts(args.out + '.parts')
        try:
            parts.open(prediction_manifest(args.config, args.checkpoint, part_settings(args)))
        except RuntimeError as exc:  # parts made with another model or other options
            raise ValueError(f'--out {args.out!r}: {exc}') from exc
        if args.merge:
            meta = load_runner_checkpoint(args.checkpoint).get('meta') or {}
            classes = (meta.get('dataset_meta') or {}).get('classes') or []
            write_outputs(args, parts.merged(args.inputs), list(classes), sys.stdout)
            return 0
    threads = set_threads(args.threads)
    stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):  # logs to stderr; stdout: predictions
        inferencer = ConversationInferencer(
            args.config, args.checkpoint, device=args.device,
            extractor_options=parse_options(args.extractor_option),
            cfg_options=args.cfg_options, asr=asr_options(args, threads))
        if args.live:
            recording = None if args.live == '-' else args.live
            return live(inferencer, args.out, stdout, recording, not args.no_wait,
                        asr=asr_options(args, threads))
        if args.shard:
            return run_shard(args, inferencer, parts)
        predictions = inferencer(gather_inputs(args, inferencer), batch_size=args.batch_size)
    if not predictions:
        raise ValueError(f'no utterance to label in {args.inputs}'
                         f'{" (split " + args.split + ")" if args.split else ""}')
    write_outputs(args, predictions, inferencer.classes, stdout)
    return 0


class Stopped(Exception):
    """SIGINT or SIGTERM arrived."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    """SIGINT and SIGTERM raise :class:`Stopped`, except inside :meth:`deferred`
    (writing one prediction), where they take effect once it is done: a line is
    written whole or not at all."""

    def __init__(self) -> None:
        self._deferring = False
        self._pending: Optional[int] = None

    def _handle(self, signum: int, frame) -> None:
        if self._deferring:
            self._pending = signum
        else:
            raise Stopped(signum)

    @contextlib.contextmanager
    def installed(self) -> Iterator['StopSignals']:
        old = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
        if self._pending is not None:
            raise Stopped(self._pending)


def stdin_lines() -> Iterator[Union[str, UnicodeDecodeError]]:
    """Lines of stdin, each decoded on its own (UTF-8): a line that does not decode is
    given as its error, and the lines after it are read as usual."""
    raw = getattr(sys.stdin, 'buffer', None)
    if raw is None:  # already text (an embedding program's stream)
        yield from sys.stdin
        return
    for line in iter(raw.readline, b''):
        try:
            yield line.decode('utf-8')
        except UnicodeDecodeError as exc:
            yield exc


def label_line(session, number: int, line: Union[str, UnicodeDecodeError]) -> Optional[dict]:
    """The prediction of one ``speaker: text`` line, or None (reported on stderr) for a
    line that cannot be labelled; the session is then unchanged."""
    if isinstance(line, UnicodeDecodeError):
        print(f'line {number}: skipped: not UTF-8 text ({line.reason} at byte '
              f'{line.start})', file=sys.stderr, flush=True)
        return None
    speaker, sep, text = line.rstrip('\r\n').partition(':')
    try:
        return session.add(speaker=speaker.strip() if sep else 'unknown',
                           text=text if sep else speaker)
    except (ValueError, TypeError) as exc:  # the row checks, the recipe, max_len
        print(f'line {number}: skipped: {exc}', file=sys.stderr, flush=True)
        return None


def stdin_results(session) -> Iterator[dict]:
    """The prediction of every stdin line that can be labelled, as it arrives."""
    for number, line in enumerate(stdin_lines(), 1):
        r = label_line(session, number, line)
        if r is not None:
            yield r


def recording_results(session, path: str, realtime: bool) -> Iterator[dict]:
    """A recording replayed as a live source (0.5 s chunks, in real time unless
    ``realtime`` is False): the prediction of every utterance when it closes."""
    from vega_mm.features.speech import replay
    for chunk, _ in replay(path, 0.5, realtime=realtime):
        yield from session.add_audio(chunk)
    yield from session.finish_audio()
    note = session.audio_report.note()
    if note:
        print(f'{path}: {note}', file=sys.stderr, flush=True)


def _describe(r: dict) -> str:
    top = r['pred_score']
    when = f"{r['start']:7.2f}-{r['end']:7.2f}s " if r.get('start') is not None else ''
    return (f"[{r['utterance_id']}] {when}{r['speaker']}: {r['text']}  ->  "
            f"{r['pred_class']} ({top:.2f})")


def live(inferencer: ConversationInferencer, out: Optional[str], stdout: IO[str],
         recording: Optional[str] = None, realtime: bool = True,
         asr: Optional[dict] = None) -> int:
    """Label stdin line by line (or a recording as it plays), writing each prediction at
    once; returns the exit code (0 at the end of the input, 128 + the signal number when
    stopped)."""
    if recording is not None:
        session = inferencer.stream(os.path.splitext(os.path.basename(recording))[0],
                                    asr_options=asr)
        results = recording_results(session, recording, realtime)
    else:
        results = stdin_results(inferencer.stream())
    written, code = 0, 0
    sink = open(out, 'w', encoding='utf-8') if out else stdout
    signals = StopSignals()
    try:
        with signals.installed():
            for r in results:
                with signals.deferred():
                    sink.write(json.dumps(r, ensure_ascii=False) + '\n')
                    sink.flush()
                    written += 1
                    print(_describe(r), file=sys.stderr, flush=True)
    except Stopped as stop:
        code = 128 + stop.signum
        print(f'stopped by {stop}', file=sys.stderr)
    finally:
        if sink is not stdout:
            sink.close()
    print(f'labelled {written} utterances -> {out or "stdout"}', file=sys.stderr, flush=True)
    if recording is not None and not written and not code:
        raise ValueError(f'{recording}: no utterance was labelled (no speech with words found)')
    return code


if __name__ == '__main__':
    main()
