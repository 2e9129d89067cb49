"""Inference on new conversations with a trained vega_mm model."""
import copy
from typing import Dict, List, Optional, Sequence, Union

import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint_to_model

from vega_mm.registry import MODELS, TRANSFORMS
from vega_mm.utils.checkpoint import register_checkpoint_loader
from vega_mm.utils.config import apply_modalities


def init_model(config: Union[str, Config], checkpoint: Optional[str] = None,
               device: str = 'cpu', cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """Build a conversation model from a config and load a checkpoint.

    The anchors are restored from the checkpoint (it keeps the whole anchor bank): the
    bank is built from the checkpoint's shapes, so the anchor file named in the config
    is neither needed nor read. A local checkpoint is read without allowing it to run
    code (:func:`~vega_mm.utils.register_checkpoint_loader` is installed first).

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
    register_checkpoint_loader()
    if checkpoint is not None:
        ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
        anchors_from_checkpoint(model_cfg, ckpt.get('state_dict', ckpt))
    model = MODELS.build(model_cfg)
    if ckpt is not None:
        _load_checkpoint_to_model(model, ckpt, strict=True)
        model.dataset_meta = ckpt.get('meta', {}).get('dataset_meta')
    model.cfg = cfg
    return model.to(device).eval()


def init_counting_model(config: Union[str, Config], checkpoint: Optional[str] = None,
                        cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """The model of a config, for counting parameters and FLOPs
    (:func:`vega_mm.analysis.model_complexity`): without a checkpoint an anchor file
    named in the config is replaced by random anchors of the config's dimension (the
    counts do not depend on the anchors' values, and the file need not exist here)."""
    cfg = Config.fromfile(config) if isinstance(config, str) else config.copy()
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    bank = (cfg.model.get('vega_head') or {}).get('anchor_bank')
    if checkpoint is None and isinstance(bank, dict) and bank.get('anchor_file'):
        bank.update(anchor_file=None, random_anchors=True)
    return init_model(cfg, checkpoint, 'cpu')


def anchors_from_checkpoint(model_cfg: dict, state_dict: dict) -> None:
    """Make a conversation model config build its anchor bank from a checkpoint's shapes
    instead of the anchor file (which need not exist where the model is used).

    Changes ``model_cfg`` in place; a config without a VEGA head is left as it is.
    """
    head = model_cfg.get('vega_head')
    if not head or not isinstance(head.get('anchor_bank'), dict):
        return
    centers = state_dict.get('vega_head.anchor_bank.centers')
    if centers is None:
        raise KeyError('the checkpoint has no vega_head.anchor_bank.centers: it was not '
                       'trained with this config\'s VEGA head')
    head.anchor_bank.update(anchor_file=None, random_anchors=False,
                            dim=int(centers.shape[1]))


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
