"""Confusion matrix of a checkpoint (or of a ``tools/test.py --out`` predictions file).

    python tools/analysis_tools/confusion_matrix.py CONFIG CHECKPOINT --out-dir DIR
    python tools/analysis_tools/confusion_matrix.py CONFIG predictions.json --out-dir DIR

Writes ``confusion_matrix.png`` (counts, row-normalised, per-class F1),
``confusion_matrix.json`` and ``confusion_matrix.csv``; from a checkpoint also the
evaluated ``predictions.json``.  Exits non-zero when the matrix disagrees with the
metric's own accuracy or per-class F1.
"""
import argparse
import os.path as osp

from mmengine.config import Config, DictAction

from vega_mm.analysis import (confusion_summary, labels_from_predictions, metric_mismatches,
                              read_predictions_file, write_confusion_outputs)
from vega_mm.apis import test_checkpoint


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Draw the confusion matrix of a checkpoint')
    parser.add_argument('config', help='config file (not read for a predictions file)')
    parser.add_argument('ckpt_or_result', help='a checkpoint (.pth) or the predictions '
                        'file of tools/test.py --out (.json)')
    parser.add_argument('--out-dir', required=True, help='folder for the PNG, JSON, CSV')
    parser.add_argument('--split', choices=['test', 'val'], default='test',
                        help='split to evaluate a checkpoint on (default: test)')
    parser.add_argument('--work-dir', help='work dir of the evaluation (default: '
                        'OUT_DIR/work)')
    parser.add_argument('--title', help='title of the picture')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config, e.g. '
                        'test_dataloader.batch_size=4')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    source = args.ckpt_or_result
    try:
        if not source.endswith('.json'):
            cfg = Config.fromfile(args.config)
            if args.cfg_options:
                cfg.merge_from_dict(args.cfg_options)
            cfg.work_dir = args.work_dir or osp.join(args.out_dir, 'work')
            cfg.launcher = 'none'
            predictions_file = osp.join(args.out_dir, 'predictions.json')
            test_checkpoint(cfg, source, args.split, out=predictions_file)
            source = predictions_file
        data = read_predictions_file(source)
        y_true, y_pred = labels_from_predictions(data['predictions'], data['classes'], source)
    except (FileNotFoundError, ValueError) as exc:
        raise SystemExit(f'error: {exc}')
    summary = confusion_summary(y_true, y_pred, data['classes'])
    summary.update(source=source, split=data.get('split'), checkpoint=data.get('checkpoint'))
    title = args.title or (f'{osp.basename(str(data.get("config")))}, '
                           f'{data.get("split", "?")} split')
    paths = write_confusion_outputs(summary, args.out_dir, title)
    print(f'{summary["num_utterances"]} utterances: accuracy {summary["accuracy"]:.2f}, '
          f'weighted F1 {summary["weighted_f1"]:.2f}')
    print('wrote ' + ', '.join(paths.values()))
    problems = metric_mismatches(summary, data.get('metrics') or {})
    if problems:
        raise SystemExit('error: the confusion matrix disagrees with the metric:\n  ' +
                         '\n  '.join(problems))


if __name__ == '__main__':
    main()
