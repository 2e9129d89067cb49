"""Inference on new conversations with a trained vega_mm model."""
import copy
import os.path as osp
from typing import Any, List, Mapping, Optional, Tuple, Union

import torch
from mmengine.config import Config
from mmengine.dataset import Compose
from mmengine.registry import init_default_scope
from mmengine.runner.checkpoint import CheckpointLoader, _load_checkpoint_to_model

from vega_mm.engine.runner import conversation_collate_fn
from vega_mm.models.anchor_banks import anchor_banks_from
from vega_mm.registry import MODELS, TRANSFORMS
from vega_mm.utils.checkpoint import (CheckpointError, check_state_dict_digest,
                                      checkpoint_problem, describe_mismatch, mismatch_error,
                                      register_checkpoint_loader, training_config_hint)
from vega_mm.utils.config import ConfigError, apply_modalities, merge_overrides

#: Model keys that change a trained model's predictions without changing the shapes of
#: its weights (a shape is checked by strict loading), with the value an unset key means.
#: ``backbone.max_len`` is not one: the positional table is computed, not learned, and
#: a longer one gives the same outputs for the dialogues the shorter one covered.
PREDICTION_KEYS: Tuple[Tuple[str, Any], ...] = (
    ('backbone.causal', False), ('backbone.attention_window', None),
    ('predict_with', None), ('head.predict_with', None))


def _model_value(model_cfg: Mapping, key: str, default: Any) -> Any:
    node: Any = model_cfg
    for part in key.split('.'):
        if not isinstance(node, Mapping) or part not in node:
            return default
        node = node[part]
    return node


def _training_model_cfg(ckpt: Mapping) -> Optional[Mapping]:
    """The model config a Runner checkpoint was trained with (``meta.cfg``, the
    config's text), or None for a checkpoint without one."""
    text = (ckpt.get('meta') or {}).get('cfg') if isinstance(ckpt, Mapping) else None
    if not isinstance(text, str):
        return None
    try:
        return Config.fromstring(text, '.py').get('model')
    except Exception:  # a config that does not parse here: nothing to compare with
        return None


def config_contradictions(model_cfg: Mapping, ckpt: Mapping) -> List[str]:
    """One line for every :data:`PREDICTION_KEYS` entry that the config sets otherwise
    than the checkpoint's own training config (``meta.cfg``), such as
    ``"model.backbone.causal=False here, True in training"``; empty when they agree or
    the checkpoint records no config."""
    return [f'{key}={ours!r} here, {theirs!r} in training'
            for key, ours, theirs in _contradicting_values(model_cfg, ckpt)]


def _contradicting_values(model_cfg: Mapping, ckpt: Mapping) -> List[Tuple[str, Any, Any]]:
    """``(model.key, value here, value in training)`` for each contradiction."""
    trained = _training_model_cfg(ckpt)
    if trained is None:
        return []
    out = []
    for key, default in PREDICTION_KEYS:
        ours, theirs = (_model_value(c, key, default) for c in (model_cfg, trained))
        if ours != theirs:
            out.append((f'model.{key}', ours, theirs))
    return out


def read_trusted_checkpoint(checkpoint: str, model_cfg: Mapping,
                            config_name: Optional[str]) -> dict:
    """Read a checkpoint for inference, refusing one that cannot be trusted.

    Args:
        checkpoint: the file.
        model_cfg: the model config it is to be loaded into.
        config_name: the config file (for messages).

    Raises:
        CheckpointError: a damaged zip member (the CRCs ``torch.save`` writes), or
            weights other than the digest in ``meta.state_dict_sha256`` says.
        ConfigError: ``model_cfg`` contradicts the training config (:data:`PREDICTION_KEYS`).
    """
    ckpt = _read_intact(checkpoint)
    contradictions = _contradicting_values(model_cfg, ckpt)
    if contradictions:
        raise _contradiction_error(contradictions, checkpoint, config_name)
    return ckpt


def _read_intact(checkpoint: str) -> dict:
    """A checkpoint whose zip members and weights' digest are intact."""
    problem = checkpoint_problem(checkpoint) if osp.isfile(checkpoint) else None
    if problem is not None:
        raise CheckpointError(f'checkpoint {checkpoint!r} is {problem}')
    ckpt = CheckpointLoader.load_checkpoint(checkpoint, map_location='cpu')
    check_state_dict_digest(ckpt, checkpoint)
    return ckpt


def _contradiction_error(contradictions: List[Tuple[str, Any, Any]], checkpoint: str,
                         config_name: Optional[str]) -> ConfigError:
    """The refusal of a config whose model fits the checkpoint's weights but would
    predict otherwise; the ``--cfg-options`` it names restore the trained values."""
    fix = ' '.join(f'{key}={theirs!r}' for key, _, theirs in contradictions)
    return ConfigError(
        f'{config_name or "the config"} does not build the model checkpoint '
        f'{checkpoint!r} was trained as: '
        f'{"; ".join(f"{k}={o!r} here, {t!r} in training" for k, o, t in contradictions)} '
        '(these change its predictions). Use the training config, or set the trained '
        f'values: --cfg-options {fix}')


def _build_and_load(model_cfg: Mapping, ckpt: dict, checkpoint: str,
                    config_name: Optional[str]) -> Tuple[Optional[torch.nn.Module], str]:
    """The model built from ``model_cfg`` with the checkpoint's weights, or ``(None,
    why)`` when they do not fit (another anchor bank, other keys or shapes)."""
    try:
        with anchor_banks_from(ckpt.get('state_dict', ckpt)):
            model = MODELS.build(copy.deepcopy(model_cfg))
    except (KeyError, ValueError) as exc:  # the anchor bank it was trained with is absent
        return None, str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)
    try:
        _load_checkpoint_to_model(model, ckpt, strict=True)
    except RuntimeError as exc:
        if mismatch_error(exc, checkpoint, config_name) is None:
            raise
        return None, describe_mismatch(str(exc))
    return model, ''


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

    Raises:
        CheckpointError: naming the file: a damaged member (zip CRC), weights that
            differ from the digest it records (``meta.state_dict_sha256``), or weights
            that do not fit the config's model.
        ConfigError: the config sets a key of :data:`PREDICTION_KEYS` (e.g.
            ``backbone.causal``) otherwise than the checkpoint's training config; an
            override that would change nothing or names no argument
            (:func:`~vega_mm.utils.config.check_overrides`).
    """
    cfg = Config.fromfile(config) if isinstance(config, str) else copy.deepcopy(config)
    merge_overrides(cfg, cfg_options)  # a misspelt or ignored key: refused, not dropped
    apply_modalities(cfg)
    conversation_collate_fn(cfg)  # the loaders of configs of earlier versions
    init_default_scope(cfg.get('default_scope', 'vega_mm'))
    model_cfg = copy.deepcopy(cfg.model)
    ckpt = None
    register_checkpoint_loader()
    if checkpoint is None:
        model = MODELS.build(model_cfg)
    else:
        # the whole fit at once: weights, anchor bank and prediction keys, so that the
        # advice given is one that works (not a --cfg-options that then fails to build)
        ckpt = _read_intact(checkpoint)
        contradictions = _contradicting_values(model_cfg, ckpt)
        model, misfit = _build_and_load(model_cfg, ckpt, checkpoint, cfg.filename)
        if model is None:
            also = '; '.join(f'{k}={o!r} here, {t!r} in training'
                             for k, o, t in contradictions)
            recorded = (ckpt.get('meta') or {}).get('cfg')
            hint = training_config_hint(checkpoint,
                                        recorded if isinstance(recorded, str) else None)
            raise CheckpointError(
                f'checkpoint {checkpoint!r} does not fit the model of '
                f'{cfg.filename or "the config"}: {misfit}{"; " + also if also else ""}: '
                f'it was trained with another config; {hint}')
        if contradictions:
            raise _contradiction_error(contradictions, checkpoint, cfg.filename)
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
