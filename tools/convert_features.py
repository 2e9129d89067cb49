"""Convert a public feature file (SDT/MMGCN or VEGA pickle) to vega_mm's native ``.npz``.

Examples::

    python tools/convert_features.py iemocap_multimodal_features.pkl data/iemocap.npz
    python tools/convert_features.py meld_features.pkl data/meld.npz --dataset meld
    python tools/convert_features.py --synthetic data/synthetic.npz

Everything is validated on the way (utterance counts, feature dimensions, label range,
finite values, splits); the pickle is read with a data-only unpickler. The validation
split (absent from the pickles) is carved deterministically out of the training
dialogues (``--val-ratio``, ``--val-seed``) and stored in the output file.
"""
import argparse
import sys
from typing import List, Optional

from vega_mm.datasets.formats import DATA_FORMATS, load_conversations, save_native
from vega_mm.datasets.synthetic import make_synthetic_conversations
from vega_mm.utils.io import check_output_file


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Convert SDT/MMGCN or VEGA feature pickles to vega_mm .npz files.')
    parser.add_argument('paths', nargs='+', metavar='PATH',
                        help='INPUT OUTPUT, or only OUTPUT with --synthetic')
    parser.add_argument('--format', default='auto', choices=DATA_FORMATS,
                        help='input format (default: from the content and suffix, then '
                        'the tuple length of a pickle)')
    parser.add_argument('--dataset', choices=['iemocap', 'meld'], default=None,
                        help='class order and speaker count (default: guessed from the file)')
    parser.add_argument('--classes', default=None,
                        help='comma-separated class names, overriding --dataset')
    parser.add_argument('--val-ratio', type=float, default=0.1,
                        help='fraction of training dialogues used for validation')
    parser.add_argument('--val-seed', type=int, default=0, help='seed of the validation split')
    parser.add_argument('--synthetic', action='store_true',
                        help="write the synthetic default data set (the demo's) to OUTPUT")
    parser.add_argument('--seed', type=int, default=0, help='seed of --synthetic')
    args = parser.parse_args(argv)
    expected = 1 if args.synthetic else 2
    if len(args.paths) != expected:
        parser.error('expected OUTPUT with --synthetic' if args.synthetic else
                     'expected INPUT OUTPUT')
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    try:
        check_output_file(args.paths[-1], 'OUTPUT')  # before reading the input
        if args.synthetic:
            coll = make_synthetic_conversations(seed=args.seed)
        else:
            classes = None if args.classes is None else [
                c.strip() for c in args.classes.split(',') if c.strip()]
            coll = load_conversations(
                args.paths[0],
                data_format=args.format,
                classes=classes,
                dataset_name=args.dataset,
                val_ratio=args.val_ratio,
                val_seed=args.val_seed)
        output = args.paths[-1]
        extra = dict(coll.extra, converted_from=coll.source, source_format=coll.data_format)
        save_native(output, coll.dialogues, coll.classes, coll.splits,
                    speaker_names=coll.speaker_names, extra=extra,
                    num_speakers=coll.num_speakers)
    except (ValueError, FileNotFoundError) as e:
        print(f'error: {e}', file=sys.stderr)
        return 1
    print(coll.summary())
    print(f'written: {output}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
