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
Replaces tools/predict.py. The work is vega_mm.apis.infer_command.run (the live mode:
vega_mm.apis.live); this file parses the command line.
"""
import argparse

from mmengine.config import DictAction

from vega_mm.utils.shards import parse_shard


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
    parser.add_argument('--precision', choices=['fp32', 'bf16'], default='fp32',
                        help='bf16: the model under bf16 autocast (faster on CPUs with '
                        'AVX512-BF16/AMX; predictions may differ where classes are close)')
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
    from vega_mm.apis.infer_command import run
    from vega_mm.apis.prediction_parts import MissingPredictionsError
    from vega_mm.speech.media import MediaError
    from vega_mm.utils import CheckpointError
    try:
        code = run(args)
    except (FileNotFoundError, CheckpointError, ValueError, MediaError,
            MissingPredictionsError) as exc:
        # the checkpoint, an input file, the config, the recipe, a recording: each
        # message names it
        raise SystemExit(f'error: {exc}')
    if code:
        raise SystemExit(code)


if __name__ == '__main__':
    main()
