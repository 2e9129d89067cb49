"""Inference on new conversations with a trained vega_mm model."""
import copy
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint_to_model

from vega_mm.models.anchor_banks import anchor_banks_from
from vega_mm.registry import MODELS, TRANSFORMS
from vega_mm.utils.config import apply_modalities


def init_model(config: Union[str, Config], checkpoint: Optional[str] = None,
               device: str = 'cpu', cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """Build a conversation model from a config and load a checkpoint.

    The anchors are restored from the checkpoint (it keeps the whole anchor bank): the
    bank is built from the checkpoint's shapes, so the anchor file named in the config
    is neither needed nor read.

    Args:
        config: config file or :class:`Config`.
        checkpoint: a checkpoint written by ``tools/train.py`` (or before the code was
            consolidated: old key names are converted); None keeps the random
            initialisation.
        device: e.g. ``'cpu'`` or ``'cuda:0'``.
        cfg_options: overrides merged into the config.
    """
    cfg = Config.fromfile(config) if isinstance(config, str) else copy.deepcopy(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    apply_modalities(cfg)
    init_default_scope(cfg.get('default_scope', 'vega_mm'))
    model_cfg = copy.deepcopy(cfg.model)
    ckpt = None
    if checkpoint is None:
        model = MODELS.build(model_cfg)
    else:
        ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
        with anchor_banks_from(ckpt.get('state_dict', ckpt)):
            model = MODELS.build(model_cfg)
        _load_checkpoint_to_model(model, ckpt, strict=True)
        model.dataset_meta = ckpt.get('meta', {}).get('dataset_meta')
    model.cfg = cfg
    return model.to(device).eval()


def _test_pipeline(model) -> Compose:
    cfg = model.cfg
    pipeline = cfg.test_dataloader.dataset.get('pipeline') if cfg.get('test_dataloader') \
        else None
    if not pipeline:
        modalities = tuple(model.modalities)
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
