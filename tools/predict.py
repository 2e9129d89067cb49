"""Predict the emotion of every utterance in a feature file with a trained model.

Superseded by tools/infer.py, which reads feature files too (``--split``), also labels
raw conversations (CSV/JSONL) and writes .jsonl/.json/.csv; this script keeps its
output format (one entry per dialogue) for existing users.

    python tools/predict.py CONFIG CHECKPOINT FEATURES [--split test|val|train|all] \
        --out predictions.json

FEATURES is any file the datasets read (native .npz from tools/extract_features.py, or
an SDT/VEGA pickle); labels in it, if any, are ignored.  The anchors come from the
checkpoint: the anchor file named in the config is not needed.
"""
import argparse
import json
import os.path as osp

from vega_mm.apis import init_model, predict_dialogues
from vega_mm.datasets.formats import load_conversations
from vega_mm.utils.io import check_output_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('features', help='feature file (.npz or .pkl)')
    parser.add_argument('--split', default='all',
                        choices=['train', 'val', 'test', 'all'])
    parser.add_argument('--out', required=True, help='output .json file')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--batch-size', type=int, default=16)
    args = parser.parse_args()
    for path in (args.config, args.checkpoint, args.features):
        if not osp.isfile(path):
            raise SystemExit(f'{path!r} does not exist')
    try:
        check_output_file(args.out, '--out')  # before the model runs, not after
    except ValueError as exc:
        raise SystemExit(f'error: {exc}')
    model = init_model(args.config, args.checkpoint, device=args.device)
    data = load_conversations(args.features)
    dialogues = data.dialogues
    if args.split != 'all':
        wanted = set(data.splits.get(args.split, []))
        dialogues = [d for d in dialogues if d['dialogue_id'] in wanted]
    classes = (model.dataset_meta or {}).get('classes') or data.classes
    preds = predict_dialogues(model, dialogues, classes=classes, batch_size=args.batch_size)
    with open(args.out, 'w') as f:
        json.dump(dict(config=args.config, checkpoint=args.checkpoint,
                       features=args.features, classes=list(classes), predictions=preds),
                  f, indent=1)
    n = sum(len(p['pred_label']) for p in preds)
    print(f'predicted {n} utterances in {len(preds)} dialogues -> {args.out}')
    print('note: tools/infer.py replaces this script (raw conversations too, per-utterance '
          'probabilities, anchor similarities and branch predictions)')


if __name__ == '__main__':
    main()
