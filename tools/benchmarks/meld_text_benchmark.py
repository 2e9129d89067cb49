"""Real-data benchmark: text-only VEGA and SDT on MELD with MiniLM features.

One command, from a fresh clone with ``../shared`` beside it::

    python tools/benchmarks/meld_text_benchmark.py

1. extracts all-MiniLM-L6-v2 features from ``../shared/data/meld`` (train CSV -> train
   + a held-out 10% of its dialogues for validation; dev CSV -> test, since the MELD
   test split is not available here) into ``data/meld_text/`` (skipped when present);
2. trains ``configs/vega/vega_meld_text.py``, the same without dialogue context (an
   ablation: ``model.backbone.attention_window=0``) and ``configs/sdt/sdt_meld_text.py`` for
   each seed through ``tools/train.py`` (the MMEngine Runner; model selection on the
   validation split, then the best checkpoint is tested);
3. fits a context-free logistic-regression baseline on the same utterance features
   (``C`` and the class weighting chosen on validation weighted F1);
4. prints test weighted F1 / accuracy / macro F1 as mean +- std over the seeds.

Variants: ``--no-standardize`` (raw unit-norm sentence embeddings instead of features
standardised with training statistics) and ``--finetune-epochs N`` (MiniLM fine-tuned on
the training split's utterance labels before extraction).  Finished runs are reused
(their ``results.json``), so an interrupted benchmark continues where it stopped.
"""
import argparse
import json
import os
import os.path as osp
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

from vega_mm.datasets.formats import load_conversations
from vega_mm.evaluation import (BASELINE_METRICS, collect_run_metrics, config_class_weights,
                                finished_run_results, logistic_regression_baseline, mean_std,
                                results_path, run_metric, update_run_results)

# The configs and the default data folder are found next to this checkout.
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


class BenchModel(NamedTuple):
    """A trained model of the benchmark: config, table label, extra cfg-options."""
    config: str
    label: str
    cfg_options: Tuple[str, ...] = ()


MODELS = {
    'vega': BenchModel('configs/vega/vega_meld_text.py', 'VEGA text-only'),
    # VEGA with each utterance attending only to itself: what the dialogue context adds.
    'vega_nocontext': BenchModel(
        'configs/vega/vega_meld_text.py',
        'VEGA text-only without context (ablation, attention window 0)',
        ('model.backbone.attention_window=0', )),
    'sdt': BenchModel('configs/sdt/sdt_meld_text.py', 'SDT text-only'),
}


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__.split('\n\n')[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('--meld', default=osp.join(ROOT, '..', 'shared', 'data', 'meld'),
                   help='folder with train_sent_emo.csv and dev_sent_emo.csv')
    p.add_argument('--data-dir', default='data/meld_text',
                   help='where the feature files go (relative to the working dir)')
    p.add_argument('--work-dir', default='work_dirs/meld_text_benchmark')
    p.add_argument('--seeds', type=int, nargs='+', default=[0, 1, 2])
    p.add_argument('--models', nargs='+', default=['vega', 'vega_nocontext', 'sdt', 'logreg'],
                   choices=[*MODELS, 'logreg'])
    p.add_argument('--text-model', default='minilm', help='encoder (hub name or folder)')
    p.add_argument('--finetune-epochs', type=int, default=0,
                   help='fine-tune the encoder on training-split labels first')
    p.add_argument('--no-standardize', action='store_true',
                   help='raw sentence embeddings (no training-split standardisation)')
    p.add_argument('--jobs', type=int, default=2,
                   help='training runs in parallel (each gets cpu_count / jobs threads; '
                   'on 2 cores, 2 single-threaded runs are faster than 1 with 2 threads)')
    p.add_argument('--rerun', action='store_true', help='ignore finished runs')
    p.add_argument('--cfg-options', nargs='+', default=[],
                   help='passed on to tools/train.py for both configs')
    p.add_argument('--tag', default='',
                   help='name of this run group (work-dir subfolder), e.g. for --cfg-options')
    return p.parse_args(argv)


def feature_file(args: argparse.Namespace) -> str:
    """The feature file of this variant, extracted when it is missing."""
    from vega_mm.features import extract_features, meld_tables
    tag = 'minilm' if args.text_model == 'minilm' else osp.basename(
        args.text_model.rstrip('/'))
    if args.finetune_epochs:
        tag += f'_ft{args.finetune_epochs}'
    parts = osp.join(args.data_dir, f'meld_{tag}.parts')
    out = osp.join(args.data_dir, f'meld_{tag}{"_raw" if args.no_standardize else ""}.npz')
    if osp.isfile(out):
        return out
    try:
        tables = meld_tables(args.meld)
    except FileNotFoundError as exc:
        raise SystemExit(f'{exc}: pass --meld DIR (see ../shared/data/README.md)') from exc
    start = time.time()
    extract_features(
        out, tables, modalities=('text', ), text=dict(model=args.text_model),
        finetune=dict(epochs=args.finetune_epochs, max_length=64, batch_size=32, lr=3e-5)
        if args.finetune_epochs else None,
        standardize=not args.no_standardize, keep_parts=True, parts_dir=parts)
    print(f'features: {out} ({time.time() - start:.0f} s)', flush=True)
    return out


def baseline_class_weights() -> List[float]:
    """The VEGA text config's class weights (chosen there on validation), offered to the
    baseline too, so that it gets the same choices as the models."""
    return config_class_weights(osp.join(ROOT, MODELS['vega'].config))


def train_run(config: str, features: str, seed: int, work_dir: str,
              cfg_options: Sequence[str], rerun: bool, threads: int = 0) -> Dict:
    """One ``tools/train.py`` run (train, select on val, test the best checkpoint)."""
    res = None if rerun else finished_run_results(work_dir)
    if res is not None:
        res.setdefault('seconds', None)
        return res
    ann = osp.abspath(features)
    cmd = [sys.executable, osp.join(ROOT, 'tools', 'train.py'), config,
           '--work-dir', work_dir, '--seed', str(seed), '--cfg-options',
           *[f'{dl}.dataset.ann_file={ann}' for dl in
             ('train_dataloader', 'val_dataloader', 'test_dataloader')],
           *cfg_options]
    os.makedirs(work_dir, exist_ok=True)
    start = time.time()
    env = dict(os.environ, HF_HUB_OFFLINE='1')
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    with open(osp.join(work_dir, 'stdout.log'), 'w') as log:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0 or not osp.isfile(results_path(work_dir)):
        raise SystemExit(f'training failed ({" ".join(cmd)}); see '
                         f'{osp.join(work_dir, "stdout.log")}')
    return update_run_results(work_dir, seconds=time.time() - start)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    t0 = time.time()
    features = feature_file(args)
    # The configs are written for MiniLM's 384 dimensions; any other encoder
    # (--text-model) gets its own width, read from the feature file.
    text_dim = load_conversations(features).feature_dims['text']
    cfg_options = [f'model.backbone.input_dims.text={text_dim}', *args.cfg_options]
    variant = osp.splitext(osp.basename(features))[0] + (f'_{args.tag}' if args.tag else '')
    rows, report = [], dict(features=features, seeds=args.seeds, runs={})
    # Training runs (model x seed), `--jobs` at a time.
    jobs = [(m, s) for m in args.models if m != 'logreg' for s in args.seeds]
    threads = max(1, (os.cpu_count() or 1) // max(1, args.jobs))

    def run(job):
        model, seed = job
        wd = osp.join(args.work_dir, variant, model, f'seed{seed}')
        res = train_run(MODELS[model].config, features, seed, wd,
                        [*cfg_options, *MODELS[model].cfg_options], args.rerun, threads)
        print(f'{model} seed {seed}: test weighted F1 '
              f'{run_metric(res, "test", "weighted_f1"):.2f} ({res.get("seconds") or 0:.0f} s)',
              flush=True)
        return res

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        done = dict(zip(jobs, pool.map(run, jobs)))
    for model in args.models:
        if model == 'logreg':
            start = time.time()
            lr = logistic_regression_baseline(
                features, class_weights=(None, baseline_class_weights()))
            report['runs']['logreg'] = lr
            rows.append(('logistic regression (no context)',
                         {m: [lr['test'][m]] for m in BASELINE_METRICS},
                         [lr['val']['weighted_f1']], time.time() - start))
            print(f'logreg: C={lr["C"]}, class weights {lr["class_weight"]} (chosen on '
                  f'val), test {lr["test"]}', flush=True)
            continue
        runs = [done[(model, seed)] for seed in args.seeds]
        report['runs'].update({f'{model}/seed{seed}': res
                               for seed, res in zip(args.seeds, runs)})
        rows.append((f'{MODELS[model].label} ({osp.basename(MODELS[model].config)})',
                     collect_run_metrics(runs, 'test', BASELINE_METRICS),
                     collect_run_metrics(runs, 'val', ['weighted_f1'])['weighted_f1'],
                     sum(res.get('seconds') or 0.0 for res in runs)))
    lines = [
        f'MELD text-only, features {features} (test = MELD dev, {len(args.seeds)} seed(s) '
        f'{args.seeds}; model selection on the held-out 10% of train)'
        + (f'; cfg-options {args.cfg_options}' if args.cfg_options else ''), '',
        '| model | test weighted F1 | test accuracy | test macro F1 | val weighted F1 | '
        'run time (sum) |', '|---|---|---|---|---|---|']
    for name, test, val, secs in rows:
        lines.append(f'| {name} | ' + ' | '.join(mean_std(test[m]) for m in BASELINE_METRICS)
                     + f' | {mean_std(val)} | {secs / 60:.1f} min |')
    total = time.time() - t0
    lines += ['', f'total wall time: {total / 60:.1f} min']
    table = '\n'.join(lines)
    print('\n' + table, flush=True)
    os.makedirs(osp.join(args.work_dir, variant), exist_ok=True)
    with open(osp.join(args.work_dir, variant, 'benchmark.md'), 'w') as f:
        f.write(table + '\n')
    with open(osp.join(args.work_dir, variant, 'benchmark.json'), 'w') as f:
        json.dump(dict(report, seconds=total, table=table), f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
