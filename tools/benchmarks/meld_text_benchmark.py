"""Real-data benchmark: text-only VEGA, SDT, an MLP and bc-LSTM on MELD (MiniLM features).

One command, from a fresh clone with ``../shared`` beside it::

    python tools/benchmarks/meld_text_benchmark.py

A recipe on top of the multi-seed runner (``tools/multi_seed.py``):

1. extracts all-MiniLM-L6-v2 features from ``../shared/data/meld`` into
   ``data/meld_text/`` (skipped when present; MELD's split rule:
   ``vega_mm.benchmarking.text_feature_file``);
2. trains each model of ``--models`` for each seed through ``tools/train.py`` (the
   MMEngine Runner; the best epoch is chosen on validation, then tested), reusing
   finished runs; ``vega_nocontext`` is VEGA with each utterance attending only to itself
   (``model.backbone.attention_window=0``), an ablation of what the dialogue adds;
   ``vega_fer`` is VEGA with anchors from a facial-expression CNN (``--faces`` images,
   ``configs/vega/vega_meld_text_fer.py``) instead of random ones;
3. ``logreg``: the context-free logistic regression on the same features (``C`` and
   the class weighting chosen on validation);
4. prints the runner's table (val and test metrics as mean +- std over the seeds) and
   writes it with a JSON of per-class and per-branch F1 per run.

Variants: ``--text-model mpnet`` (all-mpnet-base-v2), ``--text-context K`` (each
utterance encoded with its K previous turns), ``--no-standardize`` (raw unit-norm
sentence embeddings) and ``--finetune-epochs N`` (the encoder fine-tuned on the training
split's labels first, the epoch chosen on validation).
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

from vega_mm.benchmarking import (FINETUNE_LR, BenchmarkEntry, benchmark_table,
                                  config_complexity, feature_file_options, run_benchmark,
                                  save_benchmark, text_feature_file, text_feature_tag)

# The configs, tools/train.py and the default data folder are found next to this checkout.
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
#: --models: name -> config under configs/ (the zoo, docs/model_zoo.md: each with its
#: published classifier and with VEGA's head)
CONFIGS = dict(
    vega='vega/vega_meld_text', sdt='sdt/sdt_meld_text', mlp='baselines/mlp_meld_text',
    bclstm='baselines/bclstm_meld_text', vega_nocontext='vega/vega_meld_text',
    vega_fer='vega/vega_meld_text_fer', dialoguegcn='dialoguegcn/dialoguegcn_meld_text',
    dialoguegcn_vega='dialoguegcn/dialoguegcn_vega_meld_text', mmgcn='mmgcn/mmgcn_meld_text',
    mmgcn_vega='mmgcn/mmgcn_vega_meld_text', m3net='m3net/m3net_meld_text',
    m3net_vega='m3net/m3net_vega_meld_text', graphsmile='graphsmile/graphsmile_meld_text',
    graphsmile_vega='graphsmile/graphsmile_vega_meld_text')
#: ``vega_nocontext``: each utterance attends only to itself (what the dialogue adds)
OPTIONS = dict(vega_nocontext=('model.backbone.attention_window=0', ))
MODELS = {name: BenchmarkEntry(osp.join(ROOT, 'configs', f'{cfg}.py'), name,
                               OPTIONS.get(name, ()))
          for name, cfg in CONFIGS.items()}
#: ``--models zoo``: every model of the zoo table, without and with VEGA's head.
ZOO = ['sdt', 'vega', 'dialoguegcn', 'dialoguegcn_vega', 'mmgcn', 'mmgcn_vega', 'm3net',
       'm3net_vega', 'graphsmile', 'graphsmile_vega', 'bclstm', 'logreg']
#: Where ``vega_fer``'s anchors are built (from ``--faces``) when missing.
FER_ANCHORS = 'data/anchors/meld_fer_anchor.pt'


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--meld', default=osp.join(ROOT, '..', 'shared', 'data', 'meld'),
                   help='folder with train_sent_emo.csv, dev_sent_emo.csv '
                   '(and test_sent_emo.csv if available)')
    p.add_argument('--faces', default=osp.join(ROOT, '..', 'shared', 'data', 'faces'),
                   help='face images, one folder per emotion, for vega_fer\'s anchors')
    p.add_argument('--data-dir', default='data/meld_text',
                   help='where the feature files go (relative to the working dir)')
    p.add_argument('--work-dir', default='work_dirs/meld_text_benchmark')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--models', nargs='+', default=['vega', 'sdt', 'mlp', 'bclstm', 'logreg'],
                   choices=[*MODELS, 'logreg', 'zoo'],
                   help='models to train; zoo: ' + ' '.join(ZOO))
    p.add_argument('--text-model', default='minilm',
                   help='encoder: minilm, mpnet, a hub name or a folder')
    p.add_argument('--text-context', type=int, default=0, metavar='K',
                   help='encode each utterance with its K previous turns')
    p.add_argument('--finetune-epochs', type=int, default=0,
                   help='fine-tune the encoder on training-split labels first (the epoch '
                   'kept by validation weighted F1)')
    p.add_argument('--finetune-patience', type=int, default=None,
                   help='stop fine-tuning after this many epochs without a better one')
    p.add_argument('--finetune-lr', type=float, default=FINETUNE_LR,
                   help='the fine-tuning learning rate')
    p.add_argument('--no-standardize', action='store_true',
                   help='raw sentence embeddings (no training-split standardisation)')
    p.add_argument('--jobs', type=int, default=None,
                   help='training runs in parallel (default: one per core); each gets '
                   'cores / jobs threads')
    p.add_argument('--complexity-length', type=int, default=0, metavar='N',
                   help='add each model\'s parameters and forward FLOPs per utterance, '
                   'counted on a dialogue of N utterances (0: no such columns)')
    p.add_argument('--rerun', action='store_true', help='ignore finished runs')
    p.add_argument('--cfg-options', nargs='+', default=[],
                   help='passed on to tools/train.py for every model')
    p.add_argument('--tag', default='',
                   help='name of this run group (work-dir subfolder), e.g. for --cfg-options')
    args = p.parse_args(argv)
    if 'zoo' in args.models:
        args.models = list(dict.fromkeys(
            m for name in args.models for m in (ZOO if name == 'zoo' else [name])))
    if args.complexity_length < 0:
        p.error(f'--complexity-length must be >= 0, got {args.complexity_length}')
    if args.jobs is not None and args.jobs < 1:
        p.error(f'--jobs must be >= 1, got {args.jobs}')
    if args.text_context < 0:
        p.error(f'--text-context must be >= 0 (previous turns), got {args.text_context}')
    if args.finetune_epochs < 0:
        p.error(f'--finetune-epochs must be >= 0 (0: no fine-tuning), got '
                f'{args.finetune_epochs}')
    if not args.finetune_epochs and (args.finetune_patience is not None
                                     or args.finetune_lr != FINETUNE_LR):
        p.error('--finetune-patience and --finetune-lr only apply with --finetune-epochs N')
    if args.finetune_patience is not None and args.finetune_patience < 1:
        p.error(f'--finetune-patience must be >= 1, got {args.finetune_patience}')
    if not args.finetune_lr > 0:
        p.error(f'--finetune-lr must be > 0, got {args.finetune_lr}')
    if len(set(args.seeds)) != len(args.seeds):
        p.error(f'--seeds must differ from each other, got {args.seeds}')
    return args


def feature_tag(args: argparse.Namespace) -> str:
    """The name of this variant's features, e.g. ``minilm_ctx1_ft6p2``."""
    return text_feature_tag(args.text_model, args.text_context, args.finetune_epochs,
                            args.finetune_patience, args.finetune_lr)


def feature_file(args: argparse.Namespace) -> str:
    """The feature file of this variant, extracted when it is missing."""
    try:
        return text_feature_file(
            args.meld, args.data_dir, args.text_model, args.text_context,
            args.finetune_epochs, args.finetune_patience, args.finetune_lr,
            standardize=not args.no_standardize, log=lambda msg: print(msg, flush=True))
    except FileNotFoundError as exc:
        raise SystemExit(f'{exc}: pass --meld DIR (see ../shared/data/README.md)') from exc
    except RuntimeError as exc:   # feature extraction failed: ...
        raise SystemExit(str(exc)) from exc


def fer_anchors(faces: str) -> str:
    """The FER-CNN anchor file of ``vega_fer``, built from ``faces`` with
    ``tools/build_anchors.py`` when missing."""
    if not osp.isfile(FER_ANCHORS):
        import subprocess
        if not osp.isdir(faces):
            raise SystemExit(f'--faces {faces}: no such folder (vega_fer builds its anchors '
                             'from face images, one subfolder per emotion)')
        cmd = [sys.executable, osp.join(ROOT, 'tools', 'build_anchors.py'), faces,
               '--encoder', 'fer_cnn', '--classes', 'meld', '--out', FER_ANCHORS,
               '--no-progress']
        if subprocess.run(cmd).returncode != 0:
            raise SystemExit(f'building the FER anchors failed: {" ".join(cmd)}')
    return osp.abspath(FER_ANCHORS)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    features = osp.abspath(feature_file(args))
    cfg_options, sizes = feature_file_options(features)
    cfg_options += args.cfg_options
    if 'vega_fer' in args.models:
        MODELS['vega_fer'] = MODELS['vega_fer']._replace(cfg_options=(
            f'model.head.vega_head.anchor_bank.anchor_file={fer_anchors(args.faces)}', ))
    entries = [MODELS[m] for m in args.models if m != 'logreg']
    variant = osp.splitext(osp.basename(features))[0] + (f'_{args.tag}' if args.tag else '')
    work_dir = osp.join(args.work_dir, variant)
    complexity = None
    try:
        if args.complexity_length:   # counted first: fails before any training
            complexity = {e.label: config_complexity(
                e.config, [*cfg_options, *e.cfg_options], args.complexity_length)
                for e in entries}
        report = run_benchmark(
            entries, args.seeds, work_dir, osp.join(ROOT, 'tools', 'train.py'),
            jobs=args.jobs, cfg_options=cfg_options, rerun=args.rerun,
            baseline='logreg' if 'logreg' in args.models else None,
            baseline_entry=MODELS['vega'], log=lambda msg: print(msg, flush=True))
    except (RuntimeError, ValueError) as exc:
        print(f'benchmark failed: {exc}', file=sys.stderr)
        return 1
    title = (f'MELD text-only, features {features} ({sizes["val"]} val / {sizes["test"]} '
             f'test utterances), {len(args.seeds)} seed(s) {args.seeds}, model selection '
             'on val' + (f'; cfg-options {args.cfg_options}' if args.cfg_options else ''))
    if complexity:
        title += f'; FLOPs counted on a dialogue of {args.complexity_length} utterances'
    table = benchmark_table(report, title, complexity)
    md, js = save_benchmark(report, table, work_dir)
    print(f'\n{table}\n\ntotal wall time: {report["seconds"] / 60:.1f} min\n'
          f'written: {md}, {js}', flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())
