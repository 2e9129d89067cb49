"""Evaluate a trained vega_mm checkpoint.

``--out FILE.json`` writes the metrics and every utterance's prediction.
``--split val`` evaluates the validation split instead of the test split (it reproduces
the validation metrics the checkpoint was selected on).
"""
import argparse
import json
import os
import os.path as osp
import sys

from mmengine.config import Config, DictAction
from mmengine.runner import Runner

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
import vega_mm  # noqa: E402,F401  (registries, checkpoint loader)
from vega_mm.apis import format_results_table  # noqa: E402
from vega_mm.utils import setup_cpu_distributed  # noqa: E402


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
    if not osp.isfile(args.checkpoint):
        raise SystemExit(f'checkpoint {args.checkpoint!r} does not exist')
    cfg.load_from = args.checkpoint
    cfg.resume = False
    if args.split == 'val':
        cfg.test_dataloader = cfg.val_dataloader
        cfg.test_evaluator = cfg.val_evaluator
    if args.amp:
        cfg.test_cfg = dict(cfg.get('test_cfg') or {}, fp16=True)
    # No training-time hooks at test time.
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', [])
                        if h['type'] not in ('ResumableEarlyStoppingHook',
                                             'EarlyStoppingHook')]
    collector = None
    if args.out:
        evaluators = cfg.test_evaluator
        evaluators = list(evaluators) if isinstance(evaluators, (list, tuple)) else [evaluators]
        cfg.test_evaluator = evaluators + [dict(type='ConversationPredictionCollector')]
    setup_cpu_distributed(cfg, args.launcher)
    runner = Runner.from_cfg(cfg)
    metrics = runner.test()
    if runner.rank != 0:
        return
    print(f'\n{format_results_table({args.split: metrics})}\n', flush=True)
    if args.out:
        for metric in runner.test_evaluator.metrics:
            if type(metric).__name__ == 'ConversationPredictionCollector':
                collector = metric
        out = dict(config=args.config, checkpoint=args.checkpoint, split=args.split,
                   metrics=metrics,
                   classes=list(runner.test_dataloader.dataset.metainfo.get('classes', [])),
                   predictions=collector.predictions if collector else [])
        os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
        with open(args.out, 'w') as f:
            json.dump(out, f, indent=1)
        print(f'wrote metrics and {len(out["predictions"])} dialogues of predictions to '
              f'{args.out}')


if __name__ == '__main__':
    main()
