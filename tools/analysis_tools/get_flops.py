"""Parameters and FLOPs per utterance of a conversation model at a dialogue length.

    python tools/analysis_tools/get_flops.py CONFIG --length 50 [--out-dir DIR]

One random dialogue of ``--length`` utterances goes through the model (random
weights and, for a config that names an anchor file, random anchors, unless
``--checkpoint``; the counts depend on neither).  Forward =
inference (``test_step``); training step = loss forward + backward, both measured by
PyTorch's ``FlopCounterMode`` (matrix products, convolutions and attention; element-wise
operations and the optimizer update are not counted).  Writes ``flops.json`` and
``flops.png`` (FLOPs per utterance against L; the forward's split over the parts).
"""
import argparse
import json
import os
import os.path as osp

from mmengine.config import DictAction

from vega_mm.analysis import (format_flops, model_complexity, plot_complexity, save_figure,
                              top_level_parts)
from vega_mm.apis import init_counting_model
from vega_mm.utils import CheckpointError


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Count parameters and FLOPs')
    parser.add_argument('config', help='config file')
    parser.add_argument('--length', type=int, nargs='+', default=[50],
                        help='dialogue length(s) L in utterances (default: 50)')
    parser.add_argument('--checkpoint', help='load these weights (optional)')
    parser.add_argument('--out-dir', help='write flops.json and flops.png here')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config')
    args = parser.parse_args()
    if min(args.length) < 1:
        parser.error('--length must be >= 1')
    return args


def main() -> None:
    args = parse_args()
    try:
        model = init_counting_model(args.config, args.checkpoint, args.cfg_options)
        results = [model_complexity(model, length) for length in args.length]
    except (FileNotFoundError, ValueError, CheckpointError) as exc:
        raise SystemExit(f'error: {exc}')
    first = results[0]
    print(f'{args.config}: {first["params"]:,} parameters '
          f'({first["trainable_params"]:,} trainable), modalities {list(model.modalities)}')
    print('| L | forward / utterance | training step / utterance | step / forward |')
    print('|---:|---:|---:|---:|')
    for r in results:
        print(f'| {r["length"]} | {format_flops(r["forward_flops_per_utterance"])} | '
              f'{format_flops(r["train_step_flops_per_utterance"])} | '
              f'{r["train_to_forward"]:.2f} |')
    top = top_level_parts(first)
    print(f'forward at L={first["length"]} by part: ' +
          ', '.join(f'{name} {100.0 * f / first["forward_flops"]:.1f}%'
                    for name, f in sorted(top.items(), key=lambda kv: -kv[1])))
    print('Counted: matrix products, convolutions, attention (2 FLOPs per multiply-add); '
          'not counted: element-wise operations, the optimizer update.')
    if args.out_dir:
        os.makedirs(args.out_dir, exist_ok=True)
        path = osp.join(args.out_dir, 'flops.json')
        with open(path, 'w') as f:
            json.dump(dict(config=args.config, results=results), f, indent=1)
        fig = plot_complexity(results, f'{osp.basename(args.config)}: '
                              f'{first["params"]:,} parameters')
        png = save_figure(fig, osp.join(args.out_dir, 'flops.png'))
        print(f'wrote {path}, {png}')


if __name__ == '__main__':
    main()
