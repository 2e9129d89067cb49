"""Inference on new conversations with a trained vega_mm model."""
import copy
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

from vega_mm.registry import MODELS, TRANSFORMS


def init_model(config: Union[str, Config], checkpoint: Optional[str] = None,
               device: str = 'cpu', cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """Build a conversation model from a config and load a checkpoint.

    The anchors are restored from the checkpoint (it keeps the whole anchor bank), so
    the anchor file named in the config does not need to be present.

    Args:
        config: config file or :class:`Config`.
        checkpoint: a checkpoint written by ``tools/train.py``; None keeps the random
            initialisation.
        device: e.g. ``'cpu'`` or ``'cuda:0'``.
        cfg_options: overrides merged into the config.
    """
    cfg = Config.fromfile(config) if isinstance(config, str) else copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    init_default_scope(cfg.get('default_scope', 'vega_mm'))
    model_cfg = cfg.model
    bank = (model_cfg.get('vega_head') or {}).get('anchor_bank')
    if checkpoint is not None and bank is not None and bank.get('anchor_file'):
        # A placeholder of the right dimension; load_checkpoint replaces it with the
        # trained anchors (AnchorBank adopts the checkpoint's bank size).
        bank.update(anchor_file=None, random_anchors=True)
    model = MODELS.build(model_cfg)
    if checkpoint is not None:
        ckpt = load_checkpoint(model, checkpoint, map_location='cpu', strict=True)
        model.dataset_meta = ckpt.get('meta', {}).get('dataset_meta')
    model.cfg = cfg
    return model.to(device).eval()


def _test_pipeline(model) -> Compose:
    cfg = model.cfg
    pipeline = cfg.test_dataloader.dataset.get('pipeline') if cfg.get('test_dataloader') \
        else None
    if not pipeline:
        modalities = tuple(model.neck.modalities)
        pipeline = [dict(type='PackConversationInputs', modalities=modalities)]
    return Compose([TRANSFORMS.build(t) for t in pipeline])


@torch.no_grad()
def predict_dialogues(model: torch.nn.Module, dialogues: Sequence[dict],
                      classes: Optional[Sequence[str]] = None,
                      batch_size: int = 16) -> List[Dict]:
    """Predict the emotion of every utterance of raw dialogues.

    Args:
        model: from :func:`init_model`.
        dialogues: raw dialogue dicts (``docs/internals.md``): ``dialogue_id``,
            ``features`` {modality: [L, D]}, ``speakers`` [L], optional ``labels``
            and ``utterance_ids``.
        classes: class names; by default the checkpoint's dataset classes.
        batch_size: dialogues per forward pass.

    Returns:
        one dict per dialogue: ``dialogue_id``, ``utterance_ids``, ``pred_label``,
        ``pred_class`` (when classes are known) and ``pred_score`` (lists).
    """
    classes = classes or (getattr(model, 'dataset_meta', None) or {}).get('classes')
    pipeline = _test_pipeline(model)
    out = []
    for start in range(0, len(dialogues), batch_size):
        items = [pipeline(dict(d, sample_idx=start + i))
                 for i, d in enumerate(dialogues[start:start + batch_size])]
        samples = model.test_step(pseudo_collate(items))
        for sample in samples:
            labels = sample.pred_label.cpu().tolist()
            entry = dict(dialogue_id=sample.metainfo.get('dialogue_id'),
                         utterance_ids=sample.metainfo.get('utterance_ids'),
                         pred_label=labels,
                         pred_score=sample.pred_score.cpu().tolist())
            if classes is not None:
                entry['pred_class'] = [classes[i] for i in labels]
            out.append(entry)
    return out
