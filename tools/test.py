"""Evaluate a trained vega_mm checkpoint.

``--out FILE.json`` writes the metrics and every utterance's prediction.
``--split val`` evaluates the validation split instead of the test split (it reproduces
the validation metrics the checkpoint was selected on).
"""
import argparse
import os
import os.path as osp

from mmengine.config import Config, DictAction

from vega_mm.apis import test_checkpoint


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Evaluate a vega_mm checkpoint')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs')
    parser.add_argument('--out', help='write metrics and per-utterance predictions to this '
                        '.json file')
    parser.add_argument('--split', choices=['test', 'val'], default='test',
                        help='which split to evaluate (default: test)')
    parser.add_argument('--amp', action='store_true', help='mixed-precision inference')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, e.g. test_dataloader.batch_size=4')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    if args.out is not None and not args.out.endswith('.json'):
        parser.error(f'--out must be a .json file, got {args.out!r}')
    return args


def main() -> None:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    try:
        test_checkpoint(cfg, args.checkpoint, args.split, amp=args.amp, out=args.out)
    except FileNotFoundError as exc:  # the checkpoint or a data file: no traceback needed
        raise SystemExit(f'error: {exc}')


if __name__ == '__main__':
    main()
