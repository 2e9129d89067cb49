"""Train a vega_mm model with the MMEngine Runner.

After training, the checkpoint that was best on the validation split is evaluated on
the validation and test splits and a results table is printed (and saved as
``results.json`` in the work dir).

One run at a time writes into a work dir (``train.lock`` there), and a work dir that
holds an earlier run's checkpoints or results is refused unless ``--resume`` continues
it or ``--overwrite`` deletes them first; ``--threads`` sets
PyTorch's threads (default: ``OMP_NUM_THREADS``, else 1); Ctrl-C prints the command
that resumes the run and exits 130.
"""
import argparse
import os
import shlex
import sys

from vega_mm.utils.cli import (WorkDirBusy, WorkDirLock, add_runner_args, check_data_files,
                               clear_or_refuse_earlier_run, export_local_rank, load_config,
                               set_threads, set_work_dir)

#: The dataloaders training reads.
_LOADERS = ['train_dataloader', 'val_dataloader', 'test_dataloader']


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a vega_mm model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or (without a value) from the latest '
        'checkpoint in the work dir')
    parser.add_argument('--overwrite', action='store_true',
                        help='the work dir holds an earlier run: delete its checkpoints and '
                        'results.json and train anew (without it, such a work dir is '
                        'refused unless --resume)')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision: fp16 with loss scaling on a GPU, '
                        'bf16 autocast on the CPU')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not validate during training (no model selection!)')
    parser.add_argument('--no-test', action='store_true',
                        help='do not evaluate the best checkpoint after training')
    parser.add_argument('--seed', type=int, help='random seed (overrides the config)')
    add_runner_args(parser, 'train_cfg.max_epochs=5')
    args = parser.parse_args()
    if args.overwrite and args.resume is not None:
        parser.error('--overwrite deletes the run that --resume would continue: give one')
    export_local_rank(args)
    return args


def merge_args(cfg, args: argparse.Namespace):
    cfg.launcher = args.launcher
    set_work_dir(cfg, args.config, args.work_dir)
    if args.amp:
        import torch
        if torch.cuda.is_available():
            cfg.optim_wrapper.type = 'AmpOptimWrapper'
            cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
        else:
            # MMEngine's AmpOptimWrapper is GPU-only: on the CPU, bf16 autocast.
            cfg.optim_wrapper.type = 'BF16AmpOptimWrapper'
    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume
    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None
        cfg.default_hooks.checkpoint.pop('save_best', None)
        # early stopping watches the validation metric: nothing to watch
        cfg.default_hooks.pop('early_stopping', None)
        cfg.custom_hooks = [h for h in cfg.get('custom_hooks', [])
                            if 'EarlyStopping' not in h['type']]
    if args.seed is not None:
        cfg.randomness = dict(cfg.get('randomness', {}), seed=args.seed)
    from vega_mm.utils.config import merge_overrides  # imports torch: after the path check
    merge_overrides(cfg, args.cfg_options)
    return cfg


def resume_command() -> str:
    """This command line with ``--resume`` (the latest checkpoint of its work dir)."""
    argv = [a for a in sys.argv if a not in ('--resume', '--overwrite') and
            not a.startswith('--resume=')]
    return shlex.join(['python'] + argv + ['--resume'])


def main() -> None:
    args = parse_args()
    lock = None
    try:  # the config and its data files first: a mistake there is reported at once
        cfg = merge_args(load_config(args.config), args)
        check_data_files(cfg, _LOADERS)
        if os.environ.get('RANK', '0') == '0':  # one lock per run, not per process
            lock = WorkDirLock(cfg.work_dir).acquire()
            for path in clear_or_refuse_earlier_run(cfg.work_dir, args.resume is not None,
                                                    args.overwrite):
                print(f'--overwrite: deleted {path}', file=sys.stderr)
        set_threads(args.threads)
    except (FileNotFoundError, ValueError, WorkDirBusy) as exc:
        raise SystemExit(f'error: {exc}')
    try:
        train(cfg, args)
    except KeyboardInterrupt:
        if os.environ.get('RANK', '0') == '0':
            print(f'\ninterrupted; resume with: {resume_command()}', file=sys.stderr)
        raise SystemExit(130)
    finally:
        if lock is not None:
            lock.release()


def train(cfg, args: argparse.Namespace) -> None:
    from vega_mm.apis import evaluate_best_checkpoint
    from vega_mm.engine import build_runner
    from vega_mm.utils import CheckpointError, setup_cpu_distributed
    setup_cpu_distributed(cfg, args.launcher)
    try:
        runner = build_runner(cfg)
        runner.train()
        if not args.no_test:
            evaluate_best_checkpoint(runner)
    except (FileNotFoundError, ValueError, CheckpointError, FloatingPointError) as exc:
        # errors the user can fix (ConfigError is a ValueError), each naming the key,
        # file or step: no traceback
        raise SystemExit(f'error: {exc}')


if __name__ == '__main__':
    main()
