"""Train a vega_mm model with the MMEngine Runner.

After training, the checkpoint that was best on the validation split is evaluated on
the validation and test splits and a results table is printed (and saved as
``results.json`` in the work dir).
"""
import argparse
import json
import os
import os.path as osp
import sys

import torch
from mmengine.config import Config, DictAction
from mmengine.runner import Runner

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import vega_mm  # noqa: E402,F401  (registries, checkpoint loader)
from vega_mm.apis import format_results_table  # noqa: E402
from vega_mm.utils import setup_cpu_distributed  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a vega_mm model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or (without a value) from the latest '
        'checkpoint in the work dir')
    parser.add_argument('--amp', action='store_true',
                        help='enable automatic mixed precision training')
    parser.add_argument('--no-validate', action='store_true',
                        help='do not validate during training (no model selection!)')
    parser.add_argument('--no-test', action='store_true',
                        help='do not evaluate the best checkpoint after training')
    parser.add_argument('--seed', type=int, help='random seed (overrides the config)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override settings in the config, e.g. train_cfg.max_epochs=5')
    parser.add_argument('--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'],
                        default='none', help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir') is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    if args.amp:
        if not torch.cuda.is_available():
            raise SystemExit('--amp needs a CUDA GPU (MMEngine\'s AmpOptimWrapper does not '
                             'run on the CPU); train without --amp here')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic')
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
        cfg.custom_hooks = [h for h in cfg.get('custom_hooks', [])
                            if 'EarlyStopping' not in h['type']]
    if args.seed is not None:
        cfg.randomness = dict(cfg.get('randomness', {}), seed=args.seed)
    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def evaluate_best(runner: Runner) -> dict:
    """Evaluate the checkpoint that was best on validation on val and test."""
    best = runner.message_hub.get_info('best_ckpt')
    results = {'best_checkpoint': best}
    if best:
        runner.logger.info(f'Evaluating the best checkpoint (on val): {best}')
        runner.load_checkpoint(best)
    else:
        runner.logger.warning('No best checkpoint (no validation?): evaluating the final '
                              'model')
    if runner.val_loop is not None:
        results['val'] = runner.val_loop.run()
    if runner._test_loop is not None:
        results['test'] = runner.test()
    return results


def main() -> None:
    args = parse_args()
    cfg = merge_args(Config.fromfile(args.config), args)
    setup_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    runner.train()
    if args.no_test:
        return
    results = evaluate_best(runner)
    if runner.rank == 0:
        table = format_results_table(
            {'val (best epoch)': results.get('val'), 'test': results.get('test')})
        monitor = cfg.default_hooks.get('checkpoint', {}).get('save_best')
        how = f'model selected on val {monitor}' if monitor else 'final model'
        print(f'\nResults of {args.config} ({how})\n{table}\n', flush=True)
        with open(osp.join(cfg.work_dir, 'results.json'), 'w') as f:
            json.dump(results, f, indent=2)


if __name__ == '__main__':
    main()
