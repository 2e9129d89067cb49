"""Evaluating checkpoints: the one selected on validation after training, or any one.

``tools/train.py`` ends with :func:`evaluate_best_checkpoint`; ``tools/test.py`` is
:func:`test_checkpoint` with argument parsing around it.
"""
import copy
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence

from mmengine.config import Config
from mmengine.dist import barrier
from mmengine.runner import Runner, TestLoop

from vega_mm.engine.runner import build_runner
from vega_mm.utils import setup_cpu_distributed
from vega_mm.utils.io import atomic_write_json
from .results import format_results_table, results_path

__all__ = ['EVALUATED_SPLITS', 'evaluate_splits', 'evaluate_best_checkpoint',
           'test_config', 'test_checkpoint']

#: The splits a run is evaluated on after training, in the order of the results table.
EVALUATED_SPLITS = ('val', 'test')
# Training-time hooks that must not act while a checkpoint is only being evaluated.
_TRAINING_ONLY_HOOKS = ('ResumableEarlyStoppingHook', 'EarlyStoppingHook')
_COLLECTOR = 'ConversationPredictionCollector'


def evaluate_splits(runner: Runner,
                    splits: Sequence[str] = EVALUATED_SPLITS) -> Dict[str, Dict[str, float]]:
    """Evaluate the runner's current model on the splits it has, each in a test loop.

    ``'test'`` is the runner's test loop; ``'val'`` runs the validation loop's
    dataloader and evaluator in a :class:`~mmengine.runner.TestLoop`, so that the
    validation hooks do not take this evaluation for one more validation epoch (the
    checkpoint hook would compare it with the best score, early stopping would count
    it, the logger would add it to the per-epoch history).

    Args:
        runner: a built Runner, its weights already loaded.
        splits: some of ``'val'`` and ``'test'``; a split the config does not set up
            (``{split}_dataloader``, ``{split}_cfg``, ``{split}_evaluator``) is skipped.

    Returns:
        ``{split: metrics}`` for the evaluated splits, in the order of ``splits``.

    Raises:
        ValueError: an unknown split, or ``'val'`` in a config without a test split
            (MMEngine's logger hook reports every test loop with the length of
            ``runner.test_dataloader``).
    """
    unknown = [s for s in splits if s not in EVALUATED_SPLITS]
    if unknown:
        raise ValueError(f'cannot evaluate splits {unknown}: expected some of '
                         f'{list(EVALUATED_SPLITS)}')
    if 'val' in splits and runner.val_loop is not None and runner.test_loop is None:
        raise ValueError(
            f'{runner.cfg.filename}: evaluating the val split needs a test split in the '
            'config too (test_dataloader, test_cfg, test_evaluator); add one or skip the '
            'evaluation (tools/train.py --no-test)')
    results = {}
    for split in splits:
        # the properties build a loop that is configured but not built yet
        loop = runner.val_loop if split == 'val' else runner.test_loop
        if loop is None:
            continue
        if split != 'test':
            loop = TestLoop(runner, loop.dataloader, loop.evaluator, fp16=loop.fp16)
        runner.logger.info(f'Evaluating on the {split} split')
        results[split] = loop.run()
    return results


def evaluate_best_checkpoint(runner: Runner,
                             results_file: Optional[str] = None) -> Dict[str, Any]:
    """Evaluate the checkpoint selected on validation on the val and test splits.

    Loads the best checkpoint of the run (the checkpoint hook's ``save_best``; without
    one the final model is evaluated, with a warning), evaluates it with
    :func:`evaluate_splits` and, on rank 0, prints the results table and writes the
    results as JSON.

    Args:
        runner: the Runner after ``runner.train()``.
        results_file: where the results go; default ``{work_dir}/results.json``.

    Returns:
        ``dict(best_checkpoint=path or None, val=metrics, test=metrics)``, the splits
        that the config has.
    """
    best = runner.message_hub.get_info('best_ckpt')
    results: Dict[str, Any] = {'best_checkpoint': best}
    # rank 0 alone writes checkpoints: in a distributed run the others wait until the
    # best one is complete (the last validation may just have written it)
    barrier()
    if best:
        runner.logger.info(f'Evaluating the best checkpoint (on val): {best}')
        runner.load_checkpoint(best)
    else:
        runner.logger.warning('No best checkpoint (no validation?): evaluating the final '
                              'model')
    results.update(evaluate_splits(runner, EVALUATED_SPLITS))
    if runner.rank == 0:
        table = format_results_table(
            {'val (best epoch)': results.get('val'), 'test': results.get('test')})
        monitor = runner.cfg.default_hooks.get('checkpoint', {}).get('save_best')
        how = f'model selected on val {monitor}' if monitor else 'final model'
        print(f'\nResults of {runner.cfg.filename} ({how})\n{table}\n', flush=True)
        atomic_write_json(results_file or results_path(runner.work_dir), results, indent=2)
    return results


def test_config(cfg: Config, checkpoint: str, split: str = 'test', amp: bool = False,
                collect_predictions: bool = False) -> Config:
    """A copy of a config that evaluates ``checkpoint`` on ``split`` with ``runner.test()``.

    Args:
        cfg: the experiment config (its ``work_dir`` and ``launcher`` already set).
        checkpoint: the checkpoint file to evaluate.
        split: ``'test'`` or ``'val'``: that split's dataloader and evaluator become the
            test ones, so no other split is built.
        amp: mixed-precision inference (``test_cfg.fp16``).
        collect_predictions: add a ``ConversationPredictionCollector`` to the
            evaluators (every utterance's prediction).

    Returns:
        The new config; ``cfg`` is not changed.

    Raises:
        FileNotFoundError: ``checkpoint`` does not exist.
        ValueError: an unknown split, or a split the config does not set up.
    """
    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint {checkpoint!r} does not exist')
    if split not in EVALUATED_SPLITS:
        raise ValueError(f'split must be one of {list(EVALUATED_SPLITS)}, got {split!r}')
    cfg = copy.deepcopy(cfg)
    if cfg.get(f'{split}_dataloader') is None or cfg.get(f'{split}_evaluator') is None:
        raise ValueError(f'{cfg.filename}: no {split}_dataloader / {split}_evaluator to '
                         f'evaluate the {split} split with')
    cfg.load_from = checkpoint
    cfg.resume = False
    cfg.test_dataloader = cfg[f'{split}_dataloader']
    cfg.test_evaluator = cfg[f'{split}_evaluator']
    if amp:
        cfg.test_cfg = dict(cfg.get('test_cfg') or {}, fp16=True)
    cfg.custom_hooks = [h for h in cfg.get('custom_hooks', [])
                        if h['type'] not in _TRAINING_ONLY_HOOKS]
    cfg.default_hooks = {name: h for name, h in (cfg.get('default_hooks') or {}).items()
                         if not (isinstance(h, dict) and h.get('type') in _TRAINING_ONLY_HOOKS)}
    if collect_predictions:
        evaluators = cfg.test_evaluator
        evaluators = list(evaluators) if isinstance(evaluators, (list, tuple)) else [evaluators]
        cfg.test_evaluator = evaluators + [dict(type=_COLLECTOR)]
    return cfg


def _collected_predictions(runner: Runner) -> List[dict]:
    for metric in runner.test_evaluator.metrics:
        if type(metric).__name__ == _COLLECTOR:
            return metric.predictions
    return []


def test_checkpoint(cfg: Config, checkpoint: str, split: str = 'test', amp: bool = False,
                    out: Optional[str] = None,
                    show_dir: Optional[str] = None) -> Dict[str, float]:
    """Evaluate a checkpoint on one split; print the table and optionally save it all.

    Builds a Runner from :func:`test_config` (distributed as ``cfg.launcher`` says) and
    runs ``runner.test()``.  On rank 0 it prints the results table and, with ``out``,
    writes ``config``, ``checkpoint``, ``split``, ``metrics``, ``classes`` and
    ``predictions``, the prediction record of every utterance
    (:mod:`vega_mm.structures.records`, the record ``tools/infer.py`` writes), as JSON.

    Args:
        cfg: the experiment config (``work_dir`` and ``launcher`` set).
        checkpoint: the checkpoint file.
        split: ``'test'`` or ``'val'`` (reproduces the validation metrics the
            checkpoint was selected on).
        amp: mixed-precision inference.
        out: a ``.json`` file for metrics and predictions.
        show_dir: a folder for the evaluation's pictures: the confusion matrix of the
            prediction and of each branch
            (:func:`~vega_mm.analysis.write_prediction_pictures`).

    Returns:
        The metrics (on every rank).
    """
    if out is not None and not out.endswith('.json'):
        raise ValueError(f'out must be a .json file, got {out!r}')
    cfg = test_config(cfg, checkpoint, split, amp=amp,
                      collect_predictions=out is not None or show_dir is not None)
    setup_cpu_distributed(cfg, cfg.get('launcher', 'none'))
    runner = build_runner(cfg)
    metrics = runner.test()
    if runner.rank != 0:
        return metrics
    print(f'\n{format_results_table({split: metrics})}\n', flush=True)
    if out:
        predictions = _collected_predictions(runner)
        atomic_write_json(out, dict(
            config=cfg.filename, checkpoint=checkpoint, split=split, metrics=metrics,
            classes=list(runner.test_dataloader.dataset.metainfo.get('classes', [])),
            predictions=predictions), indent=1)
        print(f'wrote metrics and the predictions of {len(predictions)} utterances to {out}')
    if show_dir:
        from vega_mm.analysis import write_prediction_pictures
        classes = list(runner.test_dataloader.dataset.metainfo.get('classes', []))
        title = f'{osp.basename(str(cfg.filename))}, {split} split'
        pictures = write_prediction_pictures(_collected_predictions(runner), classes,
                                             show_dir, title)
        print(f'wrote {", ".join(pictures)}')
    return metrics
