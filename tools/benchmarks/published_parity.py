"""Parity of vega_mm's zoo backbones with their published code, and training speed.

    python tools/benchmarks/published_parity.py --method dialoguegcn \\
        --published-code ~/src/conv-emotion/DialogueGCN
    python tools/benchmarks/published_parity.py --method mmgcn --published-code ~/src/MMGCN
    python tools/benchmarks/published_parity.py --method m3net --published-code ~/src/M3NET
    python tools/benchmarks/published_parity.py --method graphsmile \\
        --published-code ~/src/GraphSmile

imports the published model class from the checkout given (never copied into vega_mm:
it keeps its own licence), builds vega_mm's backbone and head with the same settings,
loads the published weights into vega_mm's, and on random batches at IEMOCAP and MELD
sizes compares

- every output in eval mode (the log-probabilities; for DialogueGCN also the edges,
  their relation types and weights; for GraphSmile the sentiment and shift logits)
  within ``--rtol`` (1e-5) of the largest magnitude;
- the loss within ``--rtol``;
- one training step's gradients (dropout off so both draw nothing) within ``--gtol``
  (1e-4) of each gradient's norm, parameter by parameter through the weight mapping.

Each size is checked on dialogues of equal length and of mixed lengths, where the
published models read the padding and vega_mm's do not (those rows are reported as
measured and not counted), with a control that shows the padding is the only
difference: ``parity/lstm_models.py`` (DialogueGCN, MMGCN) and
``parity/norm_models.py`` (M3Net, GraphSmile) say which rows count and why.

``--speed`` times training steps (forward, backward, Adam) of both models on the same
CPU and shapes, with dropout on, and prints utterances per second.

The shims for the published code's old APIs live beside this script only, in
``parity/`` (one module per method, and ``parity/common.py``).

Exits 1 when a check fails.
"""
import argparse
import importlib
import os.path as osp
import sys

import torch

import vega_mm.models  # noqa: F401  (registers vega_mm's classes before any shim)

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

#: --method: each has its module in parity/
METHODS = ('dialoguegcn', 'graphsmile', 'm3net', 'mmgcn')


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--method', required=True, choices=METHODS)
    p.add_argument('--published-code', required=True,
                   help='checkout of the published code: the DialogueGCN folder of '
                   'declare-lab/conv-emotion, hujingwen6666/MMGCN, feiyuchen7/M3NET or '
                   'lijfrank-open/GraphSmile')
    p.add_argument('--sizes', nargs='+', default=['iemocap', 'meld'],
                   choices=['iemocap', 'meld'])
    p.add_argument('--rtol', type=float, default=1e-5)
    p.add_argument('--gtol', type=float, default=1e-4)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--speed', action='store_true',
                   help='also time training steps of both (utterances / s)')
    p.add_argument('--steps', type=int, default=5, help='timed steps per model (--speed)')
    return p.parse_args(argv)


def method_module(method: str):
    """``parity.<method>``: the published code's adapter for ``--method``."""
    return importlib.import_module(f'parity.{method}')


def main(argv=None) -> int:
    args = parse_args(argv)
    method = method_module(args.method)
    module = method.import_published(args.published_code)
    torch.set_default_dtype(torch.float32)
    failed = 0
    print(f'{args.method}: vega_mm against {osp.abspath(args.published_code)} '
          f'(torch {torch.__version__}, {torch.get_num_threads()} thread(s))')
    print(f'| check | difference | within tolerance (rtol {args.rtol:g}, gtol {args.gtol:g}) |')
    print('|---|---:|---|')
    for name in args.sizes:
        for what, diff, ok, counted in method.check_size(module, name, method.SIZES[name],
                                                         args.seed, args.rtol, args.gtol):
            failed += counted and not ok
            verdict = ('yes' if ok else 'NO') if counted else \
                ('yes' if ok else method.NOT_COUNTED)
            print(f'| {what} | {diff:.2e} | {verdict} |', flush=True)
    if args.speed:
        print('\n| shapes | published utt/s | vega_mm utt/s | vega_mm / published |')
        print('|---|---:|---:|---:|')
        for name in args.sizes:
            size = method.SIZES[name]
            s = method.speed(module, name, size, args.steps, args.seed)
            print(f'| {name} {size["lengths"]} | {s["published"]:.0f} | '
                  f'{s["vega_mm"]:.0f} | {s["vega_mm"] / s["published"]:.2f} |', flush=True)
    print(f'\n{failed} check(s) outside tolerance')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
