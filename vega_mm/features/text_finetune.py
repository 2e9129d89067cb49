"""Fine-tuning a text encoder on the training split's utterance labels, before the
features are extracted with it (utterance-level classification, as the public MERC
feature files were made).

The encoder learns with a linear classifier on its pooled embedding; only the encoder
and its tokenizer are kept.  With a validation set, the epoch with the best validation
weighted F1 is kept and training stops after ``patience`` epochs without a better one;
training utterances are the only ones it learns from.
"""
import copy
import hashlib
import json
import math
import os
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .text import _pool, tokenize
from .text_models import resolve_text_model

__all__ = ['finetune_text_encoder', 'check_finetune_settings']

#: the file in ``out_dir`` holding the state after the last finished epoch (removed when
#: fine-tuning ends, as ``out_dir`` is replaced by the encoder)
RESUME_FILE = 'finetune_resume.pt'


class _PooledClassifier(nn.Module):
    """Encoder + pooling + linear layer, for fine-tuning on utterance labels."""

    def __init__(self, encoder: nn.Module, dim: int, num_classes: int, pooling: str,
                 dropout: float) -> None:
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(dim, num_classes)

    def forward(self, enc: Dict[str, torch.Tensor], own: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(**enc).last_hidden_state
        return self.fc(self.dropout(_pool(hidden, own, self.pooling)))


def _labelled(texts: Sequence[str], labels: Sequence[int],
              contexts: Optional[Sequence[str]]):
    labels = np.asarray(labels, dtype=np.int64)
    keep = labels >= 0
    texts = [t or '' for t, k in zip(texts, keep) if k]
    contexts = None if contexts is None else [c for c, k in zip(contexts, keep) if k]
    return texts, labels[keep], contexts


def _setup(model: Optional[str], num_classes: int, pooling: str, freeze_embeddings: bool,
           lr: float, steps: int, device: torch.device):
    """The tokenizer, the encoder, the classifier around it, AdamW (weight decay 0.01)
    and its linear schedule with 6% warm-up."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.optimization import get_linear_schedule_with_warmup
    name = resolve_text_model(model)
    tokenizer = AutoTokenizer.from_pretrained(name)
    encoder = AutoModel.from_pretrained(name)
    if freeze_embeddings:
        encoder.get_input_embeddings().weight.requires_grad_(False)
    clf = _PooledClassifier(encoder, int(encoder.config.hidden_size), num_classes, pooling,
                            dropout=0.1).to(device)
    optim = torch.optim.AdamW([p for p in clf.parameters() if p.requires_grad], lr=lr,
                              weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(optim, int(0.06 * steps), steps)
    return tokenizer, encoder, clf, optim, sched


def check_finetune_settings(epochs: Any = 1, lr: Any = 3e-5, batch_size: Any = 32,
                            max_length: Any = 64, patience: Any = None,
                            **_: Any) -> None:
    """Refuse fine-tuning settings that cannot run or would mean something else.

    Raises:
        ValueError: naming the setting and what it must be: ``epochs`` a whole number
            >= 0 (0: no fine-tuning), ``lr`` > 0, ``batch_size`` >= 1, ``max_length``
            >= 2, ``patience`` None or a whole number >= 1.
    """
    def whole(value: Any) -> bool:
        return isinstance(value, (int, np.integer)) and not isinstance(value, bool)

    problems = []
    if not whole(epochs) or epochs < 0:
        problems.append(f'epochs must be a whole number >= 0, got {epochs!r}')
    if not isinstance(lr, (int, float)) or isinstance(lr, bool) or not lr > 0:
        problems.append(f'lr must be a number > 0, got {lr!r}')
    if not whole(batch_size) or batch_size < 1:
        problems.append(f'batch_size must be a whole number >= 1, got {batch_size!r}')
    if not whole(max_length) or max_length < 2:
        problems.append(f'max_length must be a whole number >= 2 (tokens), got '
                        f'{max_length!r}')
    if patience is not None and (not whole(patience) or patience < 1):
        problems.append(f'patience must be None or a whole number >= 1 (epochs without a '
                        f'better validation score), got {patience!r}')
    if problems:
        raise ValueError('text encoder fine-tuning: ' + '; '.join(problems))


def finetune_text_encoder(model: Optional[str], texts: Sequence[str], labels: Sequence[int],
                          num_classes: int, out_dir: str, epochs: int = 1,
                          lr: float = 3e-5, batch_size: int = 32, max_length: int = 64,
                          pooling: str = 'mean', class_weighted: bool = True,
                          freeze_embeddings: bool = True, seed: int = 0,
                          device: Optional[str] = None, progress: bool = True,
                          contexts: Optional[Sequence[str]] = None,
                          val: Optional[Mapping[str, Any]] = None,
                          patience: Optional[int] = None,
                          log: Optional[Callable[[str], None]] = None,
                          resume: bool = True) -> Dict[str, Any]:
    """Fine-tune a text encoder on labelled *training* utterances; save it to ``out_dir``.

    AdamW with linear decay and 6% warm-up, cross-entropy (class-weighted by inverse
    frequency if ``class_weighted``), gradient norm clipped at 1.  To stay CPU-friendly,
    batches are formed from utterances of similar length (shuffled pools of 50 batches,
    sorted by length), and the token embeddings stay frozen by default.

    Args:
        model: hub name, local folder or short name (``'minilm'``, ``'mpnet'``).
        texts, labels: the training utterances (label -1: skipped).
        contexts: with each text, the context it is encoded with (see
            :func:`~vega_mm.features.text.context_pairs`); only its own tokens are pooled.
        val: ``dict(texts, labels[, contexts])`` of the validation split: the epoch with
            the best weighted F1 on it is kept.  Without it the last epoch is kept.
        patience: with ``val``, stop after this many epochs without a better one.
        log: called with a line after each epoch (its validation weighted F1, the epoch
            kept so far, and why training stops early), as it finishes.
        resume: after each epoch but the last, save the whole training state (weights,
            optimiser, schedule, random generators, scores, the best epoch's weights) to
            ``out_dir/finetune_resume.pt``; a later call with the same data and settings
            continues after that epoch and ends with the same encoder as an uninterrupted
            run.  A state saved for other data or settings is not used (and is replaced).
            ``False``: neither read nor write it.

    Returns:
        ``dict(model_dir=out_dir, epochs_run, best_epoch, val_weighted_f1=[per epoch])``;
        ``out_dir`` loads as a :class:`~vega_mm.features.TextFeatureExtractor` ``model``.
    """
    check_finetune_settings(epochs=epochs, lr=lr, batch_size=batch_size,
                            max_length=max_length, patience=patience)
    texts, labels_arr, contexts = _labelled(texts, labels, contexts)
    if len(texts) == 0:
        raise ValueError('fine-tuning the text encoder needs labelled training utterances')
    val_data = _validation(val, contexts)
    dev = torch.device(device or ('cuda' if torch.cuda.is_available() else 'cpu'))
    gen = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    per_epoch = math.ceil(len(texts) / batch_size)
    tokenizer, encoder, clf, optim, sched = _setup(model, num_classes, pooling,
                                                   freeze_embeddings, lr, epochs * per_epoch, dev)
    fingerprint = _fingerprint(
        dict(model=model, num_classes=num_classes, epochs=epochs, lr=lr,
             batch_size=batch_size, max_length=max_length, pooling=pooling,
             class_weighted=class_weighted, freeze_embeddings=freeze_embeddings, seed=seed,
             patience=patience), texts, labels_arr, contexts, val_data)
    run = _Run(clf, encoder, optim, sched, gen, dev, os.path.join(out_dir, RESUME_FILE),
               fingerprint, log, _progress_bar(progress, epochs * per_epoch))
    if resume:
        run.resume(epochs, per_epoch)
    lengths = np.asarray([len(t) + (len(contexts[i]) if contexts else 0)
                          for i, t in enumerate(texts)])
    weight = _inverse_frequency(labels_arr, num_classes, dev) if class_weighted else None

    def loss_of(idx: List[int]) -> torch.Tensor:
        enc, own = tokenize(tokenizer, [texts[j] for j in idx],
                            None if contexts is None else [contexts[j] for j in idx],
                            max_length, dev)
        target = torch.as_tensor(labels_arr[idx], device=dev)
        return F.cross_entropy(clf(enc, own), target, weight=weight)

    for epoch in range(run.start, epochs):
        run.train_epoch(_length_batches(torch.randperm(len(texts), generator=gen).numpy(),
                                        lengths, batch_size), loss_of)
        score = None if val_data is None else _weighted_f1(
            clf, tokenizer, *val_data, batch_size, max_length, dev)
        if run.end_epoch(epoch, epochs, score, patience, resume):
            break
    return run.finish(tokenizer, out_dir, epochs, val_data is not None)


def _validation(val: Optional[Mapping[str, Any]],
                contexts: Optional[List[str]]) -> Optional[tuple]:
    """``(texts, labels, contexts)`` of the labelled validation utterances, or None
    (no validation split, or an unlabelled one: it selects nothing)."""
    if val is None:
        return None
    val_texts, val_labels, val_contexts = _labelled(val['texts'], val['labels'],
                                                    val.get('contexts'))
    if (val_contexts is None) != (contexts is None):
        raise ValueError('the validation utterances need contexts exactly when the '
                         'training ones have them')
    return (val_texts, val_labels, val_contexts) if val_texts else None


def _progress_bar(progress: bool, total: int):
    if not progress:
        return None
    from tqdm import tqdm
    return tqdm(total=total, desc='fine-tune text', unit='batch')


class _Run:
    """The state of one fine-tuning run: the model and its optimiser, the random
    generator, the validation scores and the best epoch; saved after each epoch and
    restored by :meth:`resume` (see :func:`finetune_text_encoder`)."""

    def __init__(self, clf: '_PooledClassifier', encoder: nn.Module, optim, sched,
                 gen: torch.Generator, dev: torch.device, state_file: str, fingerprint: str,
                 log: Optional[Callable[[str], None]], bar) -> None:
        self.clf, self.encoder, self.optim, self.sched = clf, encoder, optim, sched
        self.gen, self.dev, self.state_file, self.fingerprint = gen, dev, state_file, \
            fingerprint
        self.log, self.bar = log, bar
        self.start, self.history = 0, []
        self.best_state: Optional[Dict[str, torch.Tensor]] = None
        self.best_epoch: Optional[int] = None

    def resume(self, epochs: int, per_epoch: int) -> None:
        """Continue after the last saved epoch of a run with the same fingerprint."""
        saved = _load_state(self.state_file, self.fingerprint)
        if saved is None:
            if os.path.isfile(self.state_file):
                _say(f'fine-tuning: {self.state_file} holds the state of a run with other '
                     'data or settings (or cannot be read); starting from epoch 1 and '
                     'replacing it', self.log, self.bar)
            return
        self.clf.load_state_dict(saved['model'])
        self.optim.load_state_dict(saved['optimizer'])
        self.sched.load_state_dict(saved['scheduler'])
        self.gen.set_state(saved['generator'])
        torch.set_rng_state(saved['torch_rng'])
        if self.dev.type == 'cuda' and saved.get('cuda_rng') is not None:
            torch.cuda.set_rng_state(saved['cuda_rng'], self.dev)
        self.start, self.history = saved['epoch'], list(saved['history'])
        self.best_epoch = saved['best_epoch']
        if self.best_epoch is not None:
            self.best_state = saved['best_state'] if saved['best_state'] is not None \
                else copy.deepcopy(self.encoder.state_dict())
        if self.bar is not None:
            self.bar.update(self.start * per_epoch)
        _say(f'fine-tuning: resuming after epoch {self.start}/{epochs} from '
             f'{self.state_file}', self.log, self.bar)

    def train_epoch(self, batches: List[List[int]],
                    loss_of: Callable[[List[int]], torch.Tensor]) -> None:
        """One pass over ``batches`` in a random order (gradient norm clipped at 1)."""
        self.clf.train()
        for b in torch.randperm(len(batches), generator=self.gen).tolist():
            loss = loss_of(batches[b])
            self.optim.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(self.clf.parameters(), 1.0)
            self.optim.step()
            self.sched.step()
            if self.bar is not None:
                self.bar.update(1)
                self.bar.set_postfix(loss=f'{loss.item():.3f}')

    def save(self, epoch: int) -> None:
        _save_state(self.state_file, self.fingerprint, epoch, self.clf, self.optim,
                    self.sched, self.gen, self.dev, self.history, self.best_epoch,
                    self.best_state)

    def end_epoch(self, epoch: int, epochs: int, score: Optional[float],
                  patience: Optional[int], resume: bool) -> bool:
        """Record an epoch's validation score (None: no validation), keep the best
        epoch's weights, save the state; True when training stops early."""
        stop = False
        if score is not None:
            self.history.append(score)
            best = self.best_epoch
            if best is None or score > self.history[best - 1]:
                self.best_state, self.best_epoch = copy.deepcopy(self.encoder.state_dict()), \
                    epoch + 1
            elif patience is not None and epoch + 1 - best >= patience:
                stop = True
        if resume and not stop and epoch + 1 < epochs:
            self.save(epoch + 1)
        if score is not None and self.log is not None:
            line = (f'fine-tuning epoch {epoch + 1}/{epochs}: validation weighted F1 '
                    f'{score:.2f} (best so far: epoch {self.best_epoch}, '
                    f'{self.history[self.best_epoch - 1]:.2f})')
            if stop:
                line += f'; stopping, {patience} epoch(s) without a better one'
            _say(line, self.log, self.bar)
        return stop

    def finish(self, tokenizer, out_dir: str, epochs: int, validated: bool) -> Dict[str, Any]:
        """The best epoch's encoder (the last without validation) saved to ``out_dir``."""
        if self.bar is not None:
            self.bar.close()
        if self.best_state is not None:
            self.encoder.load_state_dict(self.best_state)
        _save_pretrained(self.encoder, tokenizer, out_dir)
        return dict(model_dir=out_dir, epochs_run=len(self.history) if validated else epochs,
                    best_epoch=self.best_epoch if validated else epochs,
                    val_weighted_f1=self.history)


def _say(line: str, log: Optional[Callable[[str], None]], bar) -> None:
    """Pass a line to ``log`` (if any), above the progress bar rather than through it."""
    if log is None:
        return
    if bar is not None:
        with bar.external_write_mode():
            log(line)
    else:
        log(line)


def _fingerprint(settings: Mapping[str, Any], texts: Sequence[str], labels: np.ndarray,
                 contexts: Optional[Sequence[str]], val: Optional[tuple]) -> str:
    """A digest of the settings and data a fine-tuning run depends on."""
    h = hashlib.sha256(json.dumps(dict(settings), sort_keys=True, default=str).encode())
    for part in (texts, labels.tolist(), contexts) + (val if val is not None else ()):
        h.update(json.dumps(part if not isinstance(part, np.ndarray) else part.tolist())
                 .encode())
        h.update(b'\0')
    return h.hexdigest()


def _save_state(path: str, fingerprint: str, epoch: int, clf: nn.Module, optim, sched,
                gen: torch.Generator, dev: torch.device, history: List[float],
                best_epoch: Optional[int],
                best_state: Optional[Dict[str, torch.Tensor]]) -> None:
    """Write the state after ``epoch`` finished epochs, atomically (a temporary file
    renamed into place)."""
    os.makedirs(os.path.dirname(path) or '.', exist_ok=True)
    state = dict(
        fingerprint=fingerprint, epoch=epoch, model=clf.state_dict(),
        optimizer=optim.state_dict(), scheduler=sched.state_dict(),
        generator=gen.get_state(), torch_rng=torch.get_rng_state(),
        cuda_rng=torch.cuda.get_rng_state(dev) if dev.type == 'cuda' else None,
        history=list(history), best_epoch=best_epoch,
        # the best epoch's weights, unless they are the current ones
        best_state=None if best_epoch in (None, epoch) else best_state)
    tmp = path + '.tmp'
    torch.save(state, tmp)
    os.replace(tmp, path)


def _load_state(path: str, fingerprint: str) -> Optional[Dict[str, Any]]:
    """The saved state if ``path`` holds one for this fingerprint, else None."""
    if not os.path.isfile(path):
        return None
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
    except Exception:  # a file cut short by a crash while it was written
        return None
    if not isinstance(state, dict) or state.get('fingerprint') != fingerprint:
        return None
    return state


@torch.no_grad()
def _weighted_f1(clf: _PooledClassifier, tokenizer, texts: List[str], labels: np.ndarray,
                 contexts: Optional[List[str]], batch_size: int, max_length: int,
                 device: torch.device) -> float:
    """Weighted F1 (%) of the classifier on labelled utterances."""
    from sklearn.metrics import f1_score
    clf.eval()
    preds = []
    for i in range(0, len(texts), batch_size):
        enc, own = tokenize(tokenizer, texts[i:i + batch_size],
                            None if contexts is None else contexts[i:i + batch_size],
                            max_length, device)
        preds.append(clf(enc, own).argmax(-1).cpu().numpy())
    return 100.0 * float(f1_score(labels, np.concatenate(preds), average='weighted',
                                  zero_division=0))


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
