"""Inference on new conversations with a trained vega_mm model."""
import copy
from typing import Optional, Union

import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint_to_model

from vega_mm.models.anchor_banks import anchor_banks_from
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


def init_counting_model(config: Union[str, Config], checkpoint: Optional[str] = None,
                        cfg_options: Optional[dict] = None) -> torch.nn.Module:
    """The model of a config, for counting parameters and FLOPs
    (:func:`vega_mm.analysis.model_complexity`): without a checkpoint the anchor banks
    get random anchors of the config's dimension (the counts do not depend on the
    anchors' values, and an anchor file need not exist here)."""
    cfg = Config.fromfile(config) if isinstance(config, str) else config.copy()
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    if checkpoint is not None:
        return init_model(cfg, checkpoint, 'cpu')
    with anchor_banks_from(random=True):
        return init_model(cfg, None, 'cpu')


def _test_pipeline(model) -> Compose:
    cfg = model.cfg
    pipeline = cfg.test_dataloader.dataset.get('pipeline') if cfg.get('test_dataloader') \
        else None
    if not pipeline:
        modalities = tuple(model.modalities)
        pipeline = [dict(type='PackConversationInputs', modalities=modalities)]
    return Compose([TRANSFORMS.build(t) for t in pipeline])
