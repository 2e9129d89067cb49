"""Label every utterance of conversations with a trained model.

    python tools/infer.py CONFIG CHECKPOINT INPUT [INPUT ...] --out predictions.jsonl

INPUT is a conversation table (.csv/.tsv/.jsonl with the columns tools/extract_features.py
reads: dialogue id, utterance id, speaker, text, optional media/start/end), encoded as
the checkpoint's recipe says, or a feature file (.npz/.pkl; --split picks one split);
which one is told by vega_mm.datasets.formats.detect_format.
--out is .jsonl, .json or .csv.  --live reads utterances line by line from stdin
("speaker: text") and labels each one as it arrives (a causal model never changes an
earlier answer); a line it cannot read (e.g. an empty text) is reported and skipped.
Replaces tools/predict.py.
"""
import argparse
import sys
from typing import Dict

from vega_mm.apis import ConversationInferencer
from vega_mm.apis.outputs import check_output_path, write_predictions
from vega_mm.datasets.formats import (FEATURES, ConversationTableError, detect_format,
                                      load_conversations)
from vega_mm.utils import CheckpointError


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('inputs', nargs='*', help='conversation tables or feature files')
    parser.add_argument('--out', help='.jsonl, .json or .csv')
    parser.add_argument('--split', choices=['train', 'val', 'test'],
                        help='only this split of feature files')
    parser.add_argument('--live', action='store_true',
                        help='read "speaker: text" lines from stdin, label each at once')
    parser.add_argument('--extractor-option', action='append', metavar='MODALITY.KEY=VALUE',
                        help='replace a recorded extractor setting, e.g. '
                        'text.model=/local/copy/of/the/encoder')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch-size', type=int, default=16, help='dialogues per batch')
    args = parser.parse_args()
    if not args.live and not args.inputs:
        parser.error('give INPUT files or --live')
    try:
        run(args)
    except (FileNotFoundError, CheckpointError, ValueError) as exc:
        # the checkpoint, an input file, the config, the recipe: each message names it
        raise SystemExit(f'error: {exc}')


def run(args: argparse.Namespace) -> None:
    if args.out:
        check_output_path(args.out)
    elif not args.live:
        raise ValueError('--out is required (a .jsonl, .json or .csv file)')
    inferencer = ConversationInferencer(args.config, args.checkpoint, device=args.device,
                                        extractor_options=parse_options(args.extractor_option))
    if args.live:
        session = inferencer.stream()
        for line in sys.stdin:
            speaker, sep, text = line.rstrip('\n').partition(':')
            if not line.strip():
                continue
            try:
                r = session.add(speaker=speaker.strip() if sep else 'unknown',
                                text=(text if sep else speaker).strip())
            except ConversationTableError as exc:  # the session is unchanged
                print(f'skipped: {exc}', file=sys.stderr, flush=True)
                continue
            top = r['probabilities'][r['label']]
            print(f"[{r['utterance_id']}] {r['speaker']}: {r['text']}  ->  {r['label']} "
                  f'({top:.2f})', flush=True)
        predictions = session.results
    else:
        inputs = []
        for path in args.inputs:
            if args.split and detect_format(path).kind == FEATURES:
                data = load_conversations(path)
                inputs.extend(data.get_split(args.split))
            else:
                inputs.append(path)
        predictions = inferencer(inputs, batch_size=args.batch_size)
    if args.out:
        write_predictions(predictions, args.out, classes=inferencer.classes,
                          info=dict(config=args.config, checkpoint=args.checkpoint,
                                    inputs=args.inputs))
        dialogues = len({p['dialogue_id'] for p in predictions})
        print(f'predicted {len(predictions)} utterances in {dialogues} dialogue(s) -> '
              f'{args.out}')


if __name__ == '__main__':
    main()
