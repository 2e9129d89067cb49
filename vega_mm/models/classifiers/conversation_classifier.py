"""The conversation classifier: preprocessor -> backbone -> one head."""
from typing import Dict, List, Optional, Sequence

import torch
from mmengine.model import BaseModel

from vega_mm.structures.meta import MODALITIES
from vega_mm.registry import MODELS
from vega_mm.structures import ConversationDataSample
from vega_mm.utils.merge import merge_derived
from ..backbones.base import ConversationBackbone
from ..dropout import use_fast_dropout
from ..heads.branch_head import BranchHead
from ..heads.dual_branch_head import DualBranchHead
from ..legacy import convert_classifier_keys


@MODELS.register_module()
class ConversationClassifier(BaseModel):
    """Emotion recognition for every utterance of a dialogue (VEGA, or SDT without it).

    Shaped like mmpretrain's ``ImageClassifier``: a data preprocessor pads the dialogues
    of a batch, the backbone returns one feature per real utterance and branch
    (:mod:`~vega_mm.models.backbones.base`), and the one head computes the losses and
    writes the predictions.  VEGA's head is a :class:`~vega_mm.models.heads.DualBranchHead`
    (label space + anchor space); SDT's is a :class:`~vega_mm.models.heads.LabelHead`.

    The modalities are declared once (``modalities``, or the keys of
    ``backbone.input_dims``); the backbone's inputs, the data preprocessor's modalities
    and speaker count, and the head's branches (``'fused'`` plus the modalities),
    classes, width and class weights follow from this model's arguments by one rule
    (:func:`~vega_mm.utils.merge.merge_derived`): a sub-config's contradicting value is
    an error.  Distillation weights of absent modalities are ignored.

    Args:
        backbone: a :class:`~vega_mm.models.backbones.ConversationBackbone` config
            (``FusedSDTBackbone`` in the configs; ``SDTBackbone`` is the reference); its
            ``input_dims`` may name more modalities than ``modalities`` (e.g. a dataset's
            three), and only those are kept.
        head: the head (a :class:`~vega_mm.models.heads.BranchHead`).
        modalities: the modalities the model uses, e.g. ``('text', )``; None: all of
            ``backbone.input_dims``.
        classes: the class names in label order; ``num_classes`` is their count and a
            VEGA head matches its anchors to them by name.
        num_classes: C, filled into the head (derived from ``classes`` when given).
        class_weight: per-class CE weights, filled into the head's losses.
        predict_with: filled into a ``DualBranchHead`` (``'label'``, ``'anchor'`` or
            ``'mean'``; see :func:`~vega_mm.models.heads.prediction_logits`).
        fast_dropout: the head's dropout layers draw their masks with
            :class:`~vega_mm.models.dropout.FastDropout` (the same Bernoulli
            distribution, about 2.5x cheaper on a CPU than ``nn.Dropout``; other random
            numbers from the same seed).  The default configs set it with
            ``FusedSDTBackbone`` (the fast path); False keeps ``nn.Dropout``.
        data_preprocessor: ``ConversationDataPreprocessor`` config.
        init_cfg: initialisation config.

    ``forward(inputs, data_samples, mode)``: ``'loss'`` -> dict of losses;
    ``'predict'`` -> the data samples with the head's prediction fields (``pred_label``
    [L], ``pred_score`` [L, C], ``branch_scores``, ``branch_pred_labels`` and, with an
    anchor space, ``anchor_similarity`` [L, C]); ``'tensor'`` -> the head's logits
    ``{name: [N, C]}`` for the N real utterances of the batch (anchor-space ones
    prefixed ``anchor_``).
    """

    def __init__(self,
                 backbone: Optional[dict] = None,
                 head: Optional[dict] = None,
                 modalities: Optional[Sequence[str]] = None,
                 classes: Optional[Sequence[str]] = None,
                 num_classes: Optional[int] = None,
                 class_weight: Optional[Sequence[float]] = None,
                 predict_with: Optional[str] = None,
                 fast_dropout: bool = False,
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None,
                 vega_head: Optional[dict] = None,
                 neck: Optional[dict] = None) -> None:
        if neck is not None:
            raise ValueError("ConversationClassifier: 'neck' is now called 'backbone' "
                             "(model.backbone=dict(type='FusedSDTBackbone', ...))")
        if vega_head is not None:
            raise ValueError(
                'ConversationClassifier: model.vega_head is now part of the one head: '
                "model.head=dict(type='DualBranchHead', label_head=dict(type='LabelHead', "
                "...), vega_head=dict(type='VEGAHead', ...), distill=None), so its keys "
                'are model.head.vega_head.* (e.g. '
                'model.head.vega_head.anchor_bank.anchor_file)')
        if backbone is None or head is None:
            raise ValueError('ConversationClassifier needs a backbone and a head')
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
        backbone = merge_derived(backbone, 'model.backbone', dict(
            num_speakers=(num_speakers, 'model.data_preprocessor.num_speakers')))
        preprocessor = merge_derived(preprocessor, 'model.data_preprocessor', dict(
            modalities=(modalities, 'model.modalities'),
            num_speakers=(num_speakers, 'model.backbone.num_speakers')))
        super().__init__(data_preprocessor=MODELS.build(preprocessor), init_cfg=init_cfg)
        self.modalities = modalities
        self.backbone = MODELS.build(backbone)
        if not isinstance(self.backbone, ConversationBackbone):
            raise TypeError(f'ConversationClassifier: the backbone must be a '
                            f'ConversationBackbone, got {type(self.backbone).__name__}')
        self.head = MODELS.build(self._head_cfg(
            head, ('fused', ) + modalities, num_classes, class_weight, classes,
            predict_with))
        if not isinstance(fast_dropout, bool):
            raise ValueError(f'fast_dropout must be True or False, got {fast_dropout!r}')
        if fast_dropout:
            use_fast_dropout(self.head)
        # checkpoints of earlier layouts keep loading (vega_mm.models.legacy)
        self._register_load_state_dict_pre_hook(convert_classifier_keys, with_module=True)

    def _head_cfg(self, cfg: dict, branches: tuple, num_classes: Optional[int],
                  class_weight: Optional[Sequence[float]],
                  classes: Optional[Sequence[str]], predict_with: Optional[str]) -> dict:
        cfg = dict(cfg)
        cls = MODELS.get(cfg.get('type')) if isinstance(cfg.get('type'), str) \
            else cfg.get('type')
        if not (isinstance(cls, type) and issubclass(cls, BranchHead)):
            raise TypeError(f"ConversationClassifier: model.head must be a vega_mm head "
                            f"(LabelHead, DualBranchHead, ...), got {cfg.get('type')!r}")
        derived = dict(branches=(branches, 'model.modalities'),
                       num_classes=(num_classes, 'model.num_classes'),
                       in_channels=(self.backbone.hidden_dim, 'model.backbone.hidden_dim'))
        weight = None if class_weight is None else list(class_weight)
        if issubclass(cls, DualBranchHead):
            derived.update(
                class_weight=(weight, 'model.class_weight'),
                class_names=(None if classes is None else list(classes), 'model.classes'),
                predict_with=(predict_with, 'model.predict_with'))
            return merge_derived(cfg, 'model.head', derived)
        if predict_with not in (None, 'label'):
            raise ValueError(f'model.predict_with={predict_with!r} needs an anchor space: '
                             f"model.head=dict(type='DualBranchHead', ...)")
        cfg = merge_derived(cfg, 'model.head', derived)
        loss = merge_derived(cfg.get('loss'), 'model.head.loss',
                             dict(class_weight=(weight, 'model.class_weight')))
        return dict(cfg, loss=loss) if loss else cfg

    @property
    def anchor_head(self):
        """The VEGA (anchor-space) head, or None for a model without one."""
        return getattr(self.head, 'vega_head', None)

    def extract_feat(self, inputs: dict) -> Dict[str, torch.Tensor]:
        """Padded batch -> ``{modality: [N, H], 'fused': [N, H]}`` for its N real
        utterances (the backbone contract)."""
        return self.backbone(inputs['feats'], inputs['mask'], inputs['speakers'])

    def forward(self, inputs: dict, data_samples: Optional[List] = None,
                mode: str = 'tensor', **kwargs):
        # BaseDataset adds keys such as sample_idx to every item: ignore extra kwargs.
        if mode == 'loss':
            return self.loss(inputs, data_samples)
        if mode == 'predict':
            return self.predict(inputs, data_samples)
        if mode == 'tensor':
            return self.head(self.extract_feat(inputs))
        raise RuntimeError(f'Invalid mode "{mode}": expected loss, predict or tensor')

    @staticmethod
    def _check_labels(data_samples: List, mask: torch.Tensor) -> None:
        for i, (s, n) in enumerate(zip(data_samples, mask.sum(1).tolist())):
            if s.gt_label.numel() != int(n):
                raise ValueError(f"dialogue {s.metainfo.get('dialogue_id', i)!r}: "
                                 f'{s.gt_label.numel()} labels for {int(n)} utterances')

    def loss(self, inputs: dict, data_samples: List) -> Dict[str, torch.Tensor]:
        """The head's losses on every real utterance of the batch.

        The backbone's rows are the real utterances in dialogue order, the order of the
        data samples' concatenated labels: the cross-entropy skips unlabelled utterances
        (label -1) and the distillation terms average over all of them, as in the
        published implementation.
        """
        self._check_labels(data_samples, inputs['mask'])
        return self.head.loss(self.extract_feat(inputs), data_samples)

    def predict(self, inputs: dict,
                data_samples: Optional[List] = None) -> List[ConversationDataSample]:
        """The data samples with the head's prediction fields, one per dialogue."""
        lengths = inputs['mask'].sum(1).tolist()
        return self.head.predict(self.extract_feat(inputs), data_samples, lengths=lengths)


def _resolve_modalities(modalities: Optional[Sequence[str]], backbone: dict) -> tuple:
    dims = backbone.get('input_dims') or {}
    if isinstance(modalities, str):
        modalities = (modalities, )
    wanted = tuple(dims) if modalities is None else tuple(modalities)
    # known names are the config check's and the backbone's to enforce (input_dims)
    missing = [m for m in wanted if m not in dims]
    if missing:
        raise ValueError(f'ConversationClassifier: modalities {wanted} but '
                         f'backbone.input_dims has no dimension for {missing} (it has '
                         f'{dict(dims)})')
    return tuple([m for m in MODALITIES if m in wanted] + [m for m in wanted
                                                          if m not in MODALITIES])
