"""Train a vega_mm model with the MMEngine Runner.

After training, the checkpoint that was best on the validation split is evaluated on
the validation and test splits and a results table is printed (and saved as
``results.json`` in the work dir).
"""
import argparse

import torch
from mmengine.config import Config

from vega_mm.apis import evaluate_best_checkpoint
from vega_mm.engine import build_runner
from vega_mm.utils import (CheckpointError, ConfigError, add_runner_args, export_local_rank,
                           set_work_dir, setup_cpu_distributed)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a vega_mm model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or (without a value) from the latest '
        'checkpoint in the work dir')
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
    export_local_rank(args)
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    cfg.launcher = args.launcher
    set_work_dir(cfg, args.config, args.work_dir)
    if args.amp:
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
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    setup_cpu_distributed(cfg, args.launcher)
    try:
        runner = build_runner(cfg)
        runner.train()
        if not args.no_test:
            evaluate_best_checkpoint(runner)
    except (ConfigError, CheckpointError, FloatingPointError) as exc:
        # errors the user can fix, each naming the key, file or step: no traceback
        raise SystemExit(f'error: {exc}')


if __name__ == '__main__':
    main()
