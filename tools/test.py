"""Evaluate a trained vega_mm checkpoint.

``--out FILE.json`` writes the metrics and every utterance's prediction;
``--show-dir DIR`` the evaluation's pictures (the confusion matrix of the prediction and
of each branch, with per-class F1).
``--split val`` evaluates the validation split instead of the test split (it reproduces
the validation metrics the checkpoint was selected on).
"""
import argparse

from vega_mm.utils.cli import (add_runner_args, check_config_and_checkpoint, check_data_files,
                               export_local_rank, load_config, set_threads, set_work_dir)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Evaluate a vega_mm checkpoint')
    parser.add_argument('config', help='config file path')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save logs')
    parser.add_argument('--out', help='write metrics and per-utterance predictions to this '
                        '.json file')
    parser.add_argument('--show-dir', help='write the pictures of this evaluation (confusion '
                        'matrices, per-class F1) into this folder')
    parser.add_argument('--split', choices=['test', 'val'], default='test',
                        help='which split to evaluate (default: test)')
    parser.add_argument('--amp', action='store_true', help='mixed-precision inference')
    add_runner_args(parser, 'test_dataloader.batch_size=4')
    args = parser.parse_args()
    export_local_rank(args)
    if args.out is not None and not args.out.endswith('.json'):
        parser.error(f'--out must be a .json file, got {args.out!r}')
    return args


def main() -> None:
    args = parse_args()
    try:  # the config and its data file before the heavy imports
        check_config_and_checkpoint(args.config, args.checkpoint, 'tools/test.py')
        cfg = load_config(args.config, args.cfg_options)
        check_data_files(cfg, [f'{args.split}_dataloader'])
    except (FileNotFoundError, ValueError) as exc:
        raise SystemExit(f'error: {exc}')
    cfg.launcher = args.launcher
    set_work_dir(cfg, args.config, args.work_dir)
    from vega_mm.apis import test_checkpoint
    from vega_mm.utils import CheckpointError, ConfigError
    from vega_mm.utils.io import check_output_file
    try:
        set_threads(args.threads)
        if args.out is not None:
            check_output_file(args.out, '--out')  # before the evaluation, not after
        test_checkpoint(cfg, args.checkpoint, args.split, amp=args.amp, out=args.out,
                        show_dir=args.show_dir)
    except (FileNotFoundError, CheckpointError, ConfigError, ValueError) as exc:
        # the checkpoint, a data file, the config: each message names it
        raise SystemExit(f'error: {exc}')


if __name__ == '__main__':
    main()
