"""The conversation classifier: preprocessor -> SDT backbone -> label and VEGA heads."""
import warnings
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.model import BaseModel

from vega_mm.structures.meta import MODALITIES
from vega_mm.registry import MODELS
from vega_mm.structures import ConversationDataSample
from ..heads.branch_head import PREDICT_WITH, prediction_logits
from ..dropout import use_fast_dropout


@MODELS.register_module()
class ConversationClassifier(BaseModel):
    """Emotion recognition for every utterance of a dialogue (VEGA, or SDT without it).

    The modalities are declared once (``modalities``, or the keys of
    ``backbone.input_dims``); the backbone's inputs, the data preprocessor's modalities
    and speaker count, and both heads' branches (``'fused'`` plus the modalities),
    classes, widths and class weights follow from this model's arguments unless a
    sub-config sets them itself.  Distillation weights of absent modalities are ignored.

    Args:
        backbone: the cross-modal backbone (``SDTBackbone``); its ``input_dims`` may name
            more modalities than ``modalities`` (e.g. a dataset's three), and only those
            are kept.  Returns one [B, L, H] feature per modality and ``'fused'``.
        head: the label-space head (``LabelHead``).
        vega_head: the anchor-space head (``VEGAHead``), or None for the SDT ablation.
        modalities: the modalities the model uses, e.g. ``('text', )``; None: all of
            ``backbone.input_dims``.
        classes: the class names in label order; ``num_classes`` is their count and the
            VEGA head matches its anchors to them by name.
        num_classes: C, filled into both heads (derived from ``classes`` when given).
        class_weight: per-class CE weights, filled into both heads' losses.
        predict_with: ``'label'`` predicts with the fused label-space logits (the
            published setting); ``'anchor'`` with the fused anchor logits; ``'mean'``
            averages the two probability vectors.
        fast_dropout: the heads' dropout layers draw their masks with
            :class:`~vega_mm.models.dropout.FastDropout` (the same Bernoulli
            distribution, about 2.5x cheaper on a CPU than ``nn.Dropout``; other random
            numbers from the same seed).  The default configs set it with
            ``FusedSDTBackbone`` (the fast path); False keeps ``nn.Dropout``.
        data_preprocessor: ``ConversationDataPreprocessor`` config.
        init_cfg: initialisation config.
        neck: old name of ``backbone`` (accepted with a warning).

    ``forward(inputs, data_samples, mode)``: ``'loss'`` -> dict of losses;
    ``'predict'`` -> the data samples with ``pred_label`` [L], ``pred_score`` [L, C]
    and ``branch_pred_labels``; ``'tensor'`` -> dict of padded logits [B, L, C] per
    branch (anchor-space ones prefixed ``anchor_``).
    """

    def __init__(self,
                 backbone: Optional[dict] = None,
                 head: Optional[dict] = None,
                 vega_head: Optional[dict] = None,
                 modalities: Optional[Sequence[str]] = None,
                 classes: Optional[Sequence[str]] = None,
                 num_classes: Optional[int] = None,
                 class_weight: Optional[Sequence[float]] = None,
                 predict_with: str = 'label',
                 fast_dropout: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 neck: Optional[dict] = None) -> None:
        if neck is not None:
            if backbone is not None:
                raise ValueError('ConversationClassifier: give backbone (neck is its old '
                                 'name), not both')
            warnings.warn("ConversationClassifier: 'neck' is now called 'backbone' "
                          "(model.backbone=dict(type='SDTBackbone', ...))",
                          DeprecationWarning)
            backbone = neck
        if backbone is None or head is None:
            raise ValueError('ConversationClassifier needs a backbone and a head')
        if predict_with not in PREDICT_WITH:
            raise ValueError(f'predict_with must be one of {PREDICT_WITH}, '
                             f'got {predict_with!r}')
        if predict_with != 'label' and vega_head is None:
            raise ValueError(f'predict_with={predict_with!r} needs a vega_head')
        if classes is not None:
            if num_classes is not None and num_classes != len(classes):
                raise ValueError(f'ConversationClassifier: num_classes={num_classes} but '
                                 f'{len(classes)} classes {list(classes)}')
            num_classes = len(classes)
        backbone = dict(backbone)
        modalities = _resolve_modalities(modalities, backbone)
        backbone['input_dims'] = {m: backbone['input_dims'][m] for m in modalities}
        preprocessor = dict(data_preprocessor or dict(type='ConversationDataPreprocessor'))
        num_speakers = backbone.get('num_speakers') or preprocessor.get('num_speakers')
        _fill(backbone, 'backbone', num_speakers=num_speakers)
        _fill(preprocessor, 'data_preprocessor', modalities=modalities,
              num_speakers=num_speakers)
        super().__init__(data_preprocessor=MODELS.build(preprocessor), init_cfg=init_cfg)
        self.modalities = modalities
        self.backbone = MODELS.build(backbone)
        branches = ('fused', ) + modalities
        self.head = MODELS.build(self._head_cfg(head, 'head', branches, num_classes,
                                                class_weight))
        if vega_head is not None:
            vega_head = self._head_cfg(vega_head, 'vega_head', branches, num_classes,
                                       class_weight)
            _fill(vega_head, 'vega_head', class_names=None if classes is None else
                  list(classes))
        self.vega_head = None if vega_head is None else MODELS.build(vega_head)
        self.predict_with = predict_with
        if not isinstance(fast_dropout, bool):
            raise ValueError(f'fast_dropout must be True or False, got {fast_dropout!r}')
        if fast_dropout:
            use_fast_dropout(self.head)
            if self.vega_head is not None:
                use_fast_dropout(self.vega_head)
        # checkpoints written before the consolidation keep loading (see _legacy_keys)
        self._register_load_state_dict_pre_hook(_legacy_keys)

    def _head_cfg(self, cfg: dict, name: str, branches: tuple,
                  num_classes: Optional[int], class_weight: Optional[Sequence[float]]
                  ) -> dict:
        cfg = dict(cfg)
        _fill(cfg, name, branches=branches, num_classes=num_classes,
              in_channels=self.backbone.hidden_dim)
        if class_weight is not None:
            loss = dict(cfg.get('loss') or {})
            _fill(loss, f'{name}.loss', class_weight=list(class_weight))
            cfg['loss'] = loss
        return cfg

    def extract_feat(self, inputs: dict) -> Dict[str, torch.Tensor]:
        """Padded batch -> ``{modality: [B, L, H], 'fused': [B, L, H]}``."""
        return self.backbone(inputs['feats'], inputs['mask'], inputs['speakers'])

    def forward(self, inputs: dict, data_samples: Optional[List] = None,
                mode: str = 'tensor', **kwargs):
        # BaseDataset adds keys such as sample_idx to every item: ignore extra kwargs.
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            feats = self.extract_feat(inputs)
            out = self.head(feats)
            if self.vega_head is not None:
                out.update({f'anchor_{k}': v for k, v in self.vega_head(feats).items()})
            return out
        raise RuntimeError(f'Invalid mode "{mode}": expected loss, predict or tensor')

    @staticmethod
    def _check_labels(data_samples: List, mask: torch.Tensor) -> None:
        for i, (s, n) in enumerate(zip(data_samples, mask.sum(1).tolist())):
            if s.gt_label.numel() != int(n):
                raise ValueError(f"dialogue {s.metainfo.get('dialogue_id', i)!r}: "
                                 f'{s.gt_label.numel()} labels for {int(n)} utterances')

    def loss(self, inputs: dict, data_samples: List) -> Dict[str, torch.Tensor]:
        """Losses of both heads on every real utterance of the batch.

        The heads get the features of the real utterances in dialogue order, which is
        the order of the data samples' concatenated labels: the cross-entropy skips
        unlabelled utterances (label -1) and the distillation terms average over all of
        them, as in the published implementation.
        """
        mask = inputs['mask']
        self._check_labels(data_samples, mask)
        feats = self.extract_feat(inputs)
        flat = {k: v[mask] for k, v in feats.items()}
        losses = self.head.loss(flat, data_samples)
        if self.vega_head is not None:
            losses.update(self.vega_head.loss(flat, data_samples))
        return losses

    def predict(self, inputs: dict,
                data_samples: Optional[List] = None) -> List[ConversationDataSample]:
        mask = inputs['mask']
        feats = self.extract_feat(inputs)
        flat = {k: v[mask] for k, v in feats.items()}
        branch_logits = self.head(flat)
        anchor = None
        if self.vega_head is not None:
            anchor = self.vega_head(flat)
            branch_logits.update({f'anchor_{k}': v for k, v in anchor.items()})
        scores = prediction_logits(branch_logits['fused'],
                                   None if anchor is None else anchor['fused'],
                                   self.predict_with).float().softmax(-1)
        branch_preds = {k: v.argmax(-1) for k, v in branch_logits.items()}
        lengths = mask.sum(1).tolist()
        if data_samples is None:
            data_samples = [ConversationDataSample() for _ in lengths]
        start = 0
        for sample, n in zip(data_samples, lengths):
            n = int(n)
            sl = slice(start, start + n)
            sample.set_pred_score(scores[sl].detach())
            sample.set_pred_label(scores[sl].argmax(-1).detach())
            sample.set_branch_pred_labels({k: v[sl].detach() for k, v in branch_preds.items()})
            start += n
        return data_samples


def _resolve_modalities(modalities: Optional[Sequence[str]], backbone: dict) -> tuple:
    dims = backbone.get('input_dims') or {}
    if isinstance(modalities, str):
        modalities = (modalities, )
    wanted = tuple(dims) if modalities is None else tuple(modalities)
    unknown = [m for m in wanted if m not in MODALITIES]
    if not wanted or unknown:
        raise ValueError(f'ConversationClassifier: modalities must be a non-empty subset of '
                         f'{MODALITIES}, got {wanted}')
    missing = [m for m in wanted if m not in dims]
    if missing:
        raise ValueError(f'ConversationClassifier: modalities {wanted} but '
                         f'backbone.input_dims has no dimension for {missing} (it has '
                         f'{dict(dims)})')
    return tuple(m for m in MODALITIES if m in wanted)


def _fill(cfg: dict, name: str, **values) -> None:
    """Set derived ``values`` on a sub-config; a different explicit value is an error."""
    for key, value in values.items():
        if value is None:
            continue
        old = cfg.get(key)
        if old is None:
            cfg[key] = value
        elif _plain(old) != _plain(value):
            raise ValueError(f'ConversationClassifier: {name}.{key}={old!r} disagrees with '
                             f'{value!r}, which the model derives from its modalities, '
                             f'num_classes, class_weight and backbone; remove {name}.{key}')


def _plain(value):
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


# Key prefixes of checkpoints written before the code was consolidated (the backbone was
# the 'neck'; the distillation temperatures lived in the heads, not in their loss).
_LEGACY_PREFIXES = (('neck.', 'backbone.'),
                    ('head.kd_loss.', 'head.loss_module.kd_loss.'),
                    ('vega_head.kd_loss.', 'vega_head.loss_module.kd_loss.'))


def _legacy_keys(state_dict: dict, prefix: str, *args, **kwargs) -> None:
    """Rename the keys of an old checkpoint in place (a load_state_dict pre-hook)."""
    for key in list(state_dict):
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix):]
        for old, new in _LEGACY_PREFIXES:
            if rest.startswith(old):
                state_dict[prefix + new + rest[len(old):]] = state_dict.pop(key)
                break
