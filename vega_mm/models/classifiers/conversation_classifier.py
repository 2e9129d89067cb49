"""The conversation classifier: preprocessor -> SDT neck -> label-space and VEGA heads."""
from typing import Dict, List, Optional, Union

import torch
from mmengine.model import BaseModel

from vega_mm.registry import MODELS
from vega_mm.structures import ConversationDataSample


@MODELS.register_module()
class ConversationClassifier(BaseModel):
    """Emotion recognition for every utterance of a dialogue (VEGA, or SDT without it).

    Args:
        neck: the cross-modal backbone (``SDTNeck``); returns one [B, L, H] feature per
            modality and ``'fused'``.
        head: the label-space head (``MultiBranchClsHead``).
        vega_head: the anchor-space head (``VEGAHead``), or None for the SDT ablation.
        predict_with: ``'label'`` predicts with the fused label-space logits (the
            published setting); ``'anchor'`` with the fused anchor logits; ``'mean'``
            averages the two probability vectors.
        data_preprocessor: ``ConversationDataPreprocessor`` config.
        init_cfg: initialisation config.

    ``forward(inputs, data_samples, mode)``: ``'loss'`` -> dict of losses;
    ``'predict'`` -> the data samples with ``pred_label`` [L], ``pred_score`` [L, C]
    and ``branch_pred_labels``; ``'tensor'`` -> dict of padded logits [B, L, C] per
    branch (anchor-space ones prefixed ``anchor_``).
    """

    def __init__(self,
                 neck: dict,
                 head: dict,
                 vega_head: Optional[dict] = None,
                 predict_with: str = 'label',
                 data_preprocessor: Optional[dict] = None,
                 init_cfg: Optional[dict] = None) -> None:
        if data_preprocessor is None:
            data_preprocessor = dict(type='ConversationDataPreprocessor')
        if isinstance(data_preprocessor, dict):
            data_preprocessor = MODELS.build(data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.neck = MODELS.build(neck)
        self.head = MODELS.build(head)
        self.vega_head = MODELS.build(vega_head) if vega_head is not None else None
        if predict_with not in ('label', 'anchor', 'mean'):
            raise ValueError(f"predict_with must be 'label', 'anchor' or 'mean', "
                             f'got {predict_with!r}')
        if predict_with != 'label' and self.vega_head is None:
            raise ValueError(f'predict_with={predict_with!r} needs a vega_head')
        self.predict_with = predict_with

    def extract_feat(self, inputs: dict) -> Dict[str, torch.Tensor]:
        return self.neck(inputs['feats'], inputs['mask'], inputs['speakers'])

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
    def _padded_labels(data_samples: List, mask: torch.Tensor) -> torch.Tensor:
        labels = torch.full(mask.shape, -1, dtype=torch.long, device=mask.device)
        for i, s in enumerate(data_samples):
            gt = s.gt_label.to(mask.device)
            n = int(mask[i].sum())
            if gt.numel() != n:
                raise ValueError(f"dialogue {s.metainfo.get('dialogue_id', i)!r}: "
                                 f'{gt.numel()} labels for {n} utterances')
            labels[i, :n] = gt
        return labels

    def loss(self, inputs: dict, data_samples: List) -> Dict[str, torch.Tensor]:
        mask = inputs['mask']
        feats = self.extract_feat(inputs)
        labels = self._padded_labels(data_samples, mask)
        # Every real utterance, labelled or not: the cross-entropy skips targets < 0
        # (unlabelled) and the distillation terms average over all real utterances, as
        # in the published implementation (distillation needs no label).
        flat = {k: v[mask] for k, v in feats.items()}
        targets = labels[mask]
        losses = self.head.loss_by_feats(flat, targets)
        if self.vega_head is not None:
            losses.update(self.vega_head.loss_by_feats(flat, targets))
        return losses

    def predict(self, inputs: dict,
                data_samples: Optional[List] = None) -> List[ConversationDataSample]:
        mask = inputs['mask']
        feats = self.extract_feat(inputs)
        flat = {k: v[mask] for k, v in feats.items()}
        branch_logits = self.head(flat)
        if self.vega_head is not None:
            branch_logits.update(
                {f'anchor_{k}': v for k, v in self.vega_head(flat).items()})
        label_prob = branch_logits['fused'].float().softmax(-1)
        if self.predict_with == 'label':
            scores = label_prob
        else:
            anchor_prob = branch_logits['anchor_fused'].float().softmax(-1)
            scores = anchor_prob if self.predict_with == 'anchor' else \
                (label_prob + anchor_prob) / 2
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
