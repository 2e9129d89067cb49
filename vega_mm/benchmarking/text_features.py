"""The feature files of the text-only MELD benchmark
(``tools/benchmarks/meld_text_benchmark.py``): one file per encoder variant, named by
it, extracted once from MELD's tables and reused.
"""
import os.path as osp
import time
from typing import Callable, Dict, List, Optional, Tuple

__all__ = ['FINETUNE_LR', 'text_feature_tag', 'text_feature_file', 'feature_file_options']

#: The fine-tuning learning rate of the measured tables (docs/results.md).
FINETUNE_LR = 3e-5


def text_feature_tag(text_model: str, context: int = 0, finetune_epochs: int = 0,
                     finetune_patience: Optional[int] = None,
                     finetune_lr: float = FINETUNE_LR) -> str:
    """The name of a variant's features, e.g. ``minilm_ctx1_ft6p2`` (the learning rate
    only when it is not :data:`FINETUNE_LR`); a folder or hub name gives its last part."""
    tag = text_model if text_model in ('minilm', 'mpnet') else osp.basename(
        text_model.rstrip('/'))
    if context:
        tag += f'_ctx{context}'
    if finetune_epochs:
        tag += f'_ft{finetune_epochs}'
        if finetune_patience is not None:
            tag += f'p{finetune_patience}'
        if finetune_lr != FINETUNE_LR:
            tag += f'lr{finetune_lr:g}'
    return tag


def text_feature_file(meld: str, data_dir: str, text_model: str = 'minilm', context: int = 0,
                      finetune_epochs: int = 0, finetune_patience: Optional[int] = None,
                      finetune_lr: float = FINETUNE_LR, standardize: bool = True,
                      log: Optional[Callable[[str], None]] = None) -> str:
    """``data_dir/meld_{tag}[_raw].npz``, extracted from the MELD tables in ``meld``
    when it is missing, with MELD's split rule (:func:`vega_mm.features.meld_tables`):
    with ``test_sent_emo.csv`` present, train / dev (model selection) / test; without
    it, dev is the test split and 10% of the training dialogues are held out for model
    selection. The encoder is first fine-tuned on the training split for
    ``finetune_epochs`` (> 0) epochs;
    ``log`` gets a line with the time an extraction took.

    Raises:
        FileNotFoundError: ``meld`` lacks MELD's tables.
        RuntimeError: the extraction failed (``feature extraction failed: ...``: a
            model that cannot be loaded, ...); its parts are not kept.
    """
    from vega_mm.features import extract_features, meld_tables
    tag = text_feature_tag(text_model, context, finetune_epochs, finetune_patience,
                           finetune_lr)
    out = osp.join(data_dir, f'meld_{tag}{"" if standardize else "_raw"}.npz')
    if osp.isfile(out):
        return out
    tables = meld_tables(meld)
    start = time.time()
    finetune = dict(epochs=finetune_epochs, batch_size=32, lr=finetune_lr,
                    max_length=128 if context else 64, patience=finetune_patience)
    try:
        extract_features(
            out, tables, modalities=('text', ),
            text=dict(model=text_model, **(dict(context=context) if context else {})),
            finetune=finetune if finetune_epochs else None, standardize=standardize,
            keep_parts=True, parts_dir=osp.join(data_dir, f'meld_{tag}.parts'))
    except (OSError, ValueError, RuntimeError) as exc:  # a model that cannot be loaded, ...
        raise RuntimeError(f'feature extraction failed: {exc}') from exc
    if log is not None:
        log(f'features: {out} ({time.time() - start:.0f} s)')
    return out


def feature_file_options(features: str) -> Tuple[List[str], Dict[str, int]]:
    """``--cfg-options`` that train a MELD text config on the feature file ``features``
    (its ``ann_file`` for every split, and its text width: the configs are written for
    MiniLM's 384), and the labelled utterances of its ``val`` and ``test`` splits."""
    from vega_mm.datasets.formats import load_conversations
    coll = load_conversations(features)
    sizes = {s: sum(len(d['labels']) for d in coll.get_split(s)) for s in ('val', 'test')}
    options = [*[f'{dl}.dataset.ann_file={features}' for dl in
                 ('train_dataloader', 'val_dataloader', 'test_dataloader')],
               f'model.backbone.input_dims.text={coll.feature_dims["text"]}']
    return options, sizes
