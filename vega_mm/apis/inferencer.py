"""From conversations to emotions in one call, shaped like mmpretrain's inferencers.

::

    inferencer = ConversationInferencer('configs/vega/vega_meld_text.py', 'best.pth')
    results = inferencer('transcript.jsonl')               # or lists of utterance dicts
    session = inferencer.stream()                          # live, one utterance at a time
    session.add(speaker='Ross', text='We were on a break!')

The checkpoint's recipe (:mod:`vega_mm.apis.recipe`) says how to encode raw
utterances; feature files (``.npz``/``.pkl``) are read as they are.
"""
import inspect
import os
import sys
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence

import numpy as np
import torch
from mmpretrain.apis import BaseInferencer

from vega_mm.datasets.formats import (FEATURES, Dialogue, detect_format, dialogue_from_records,
                                      load_conversations, load_dialogues)
from vega_mm.datasets.collate import conversation_collate
from vega_mm.datasets.conversation_dataset import feature_recipe
from vega_mm.features.base import extractor_class
from .inference import _test_pipeline, init_model
from vega_mm.features.media import probe_media
from .recording import check_streams, is_recording, recording_dialogue
from .recipe import RecipeError, build_recipe_extractors, dialogue_features, speaker_indices
from .streaming import StreamSession

__all__ = ['ConversationInferencer']


# ConversationInferencer(precision=...): the autocast dtype (None: no autocast)
PRECISIONS = {'fp32': None, 'bf16': torch.bfloat16}


def _with_device(options: Optional[Mapping[str, Mapping[str, Any]]],
                 recipe: Optional[Mapping[str, Any]], modalities: Sequence[str],
                 device: Optional[str]) -> dict:
    """Extractor options with the inferencer's device for extractors that take one
    (an explicit ``device`` option wins)."""
    out = {m: dict(o) for m, o in (options or {}).items()}
    if device is None or not recipe:
        return out
    for m, rec in (recipe.get('extractors') or {}).items():
        if m not in modalities:
            continue
        cls = extractor_class(m, rec)
        if 'device' in inspect.signature(cls.__init__).parameters:
            out.setdefault(m, {}).setdefault('device', device)
    return out


def _stats_of(recipe: Mapping[str, Any], modality: str) -> Optional[Mapping[str, Any]]:
    """The standardisation statistics a recipe records for a modality, or None when
    its features were not standardised."""
    if not recipe.get('standardized'):
        return None
    return (recipe.get('feature_stats') or {}).get(modality)


def _same_stats(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    return all(len(a[k]) == len(b[k]) and np.allclose(a[k], b[k], rtol=1e-6, atol=1e-9)
               for k in ('mean', 'std'))


def _describe_stats(stats: Mapping[str, Any]) -> str:
    where = f"{stats.get('num_utterances', '?')} {stats.get('split', '?')} utterances"
    return (f"mean/std of {where}, first mean {float(stats['mean'][0]):.6g}, first std "
            f"{float(stats['std'][0]):.6g}")


class ConversationInferencer(BaseInferencer):
    """Label every utterance of conversations with a trained vega_mm model.

    Args:
        model: the config (file or :class:`~mmengine.config.Config`) the model was
            trained with.
        pretrained: its checkpoint (``tools/train.py`` output).
        device: e.g. ``'cpu'`` or ``'cuda:0'`` (default CPU).
        extractor_options: modality -> settings replacing recorded ones, e.g.
            ``{'text': {'model': '/local/copy'}}`` (see
            :func:`~vega_mm.apis.recipe.build_recipe_extractors`); also runtime ones
            such as ``batch_size`` or ``device``.
        cfg_options: overrides merged into the config before the model is built
            (``tools/infer.py --cfg-options``), e.g. ``{'model.backbone.max_len': 2048}``.
        precision: ``'fp32'`` (default) or ``'bf16'``: the model's forward under bf16
            autocast (matrix products in bf16; pays on CPUs with AVX512-BF16 or AMX and
            on recent GPUs). Predictions come out in fp32; they may differ from fp32
            ones where two classes are within bf16 rounding of each other.

    Call with one input or a list: a path to a CSV/JSONL conversation table (columns as
    ``tools/extract_features.py`` reads them) or to a feature file; a list of utterance
    dicts ``{speaker, text, [media, start, end]}`` (one conversation); a dict
    ``{'dialogue_id': ..., 'utterances': [...]}``. Returns one dict per utterance, see
    :meth:`postprocess`.
    """
    preprocess_kwargs: set = set()
    forward_kwargs: set = set()
    visualize_kwargs: set = set()
    postprocess_kwargs: set = set()

    def __init__(self, model, pretrained: Optional[str] = None, device: Optional[str] = None,
                 extractor_options: Optional[Mapping[str, Mapping[str, Any]]] = None,
                 cfg_options: Optional[dict] = None,
                 asr: Optional[Mapping[str, Any]] = None,
                 segmenter_options: Optional[Mapping[str, Any]] = None,
                 precision: str = 'fp32') -> None:
        if pretrained is None:
            raise ValueError('ConversationInferencer needs the checkpoint of a trained model')
        if precision not in PRECISIONS:
            raise ValueError(f'ConversationInferencer: precision must be one of '
                             f'{sorted(PRECISIONS)}, got {precision!r}')
        self.precision = precision
        net = init_model(model, pretrained, device=device or 'cpu', cfg_options=cfg_options)
        net._config = net.cfg
        super().__init__(model=net, device=device)
        self.checkpoint = pretrained
        meta = getattr(net, 'dataset_meta', None) or {}
        self.dataset_meta = meta
        self.recipe = meta.get('feature_recipe')
        self.classes = list(meta.get('classes') or net.cfg.model.get('classes') or
                            range(net.head.num_classes))
        self.max_len = net.backbone.max_len
        self.causal = bool(net.backbone.causal)
        self.modalities = tuple(net.modalities)
        self.num_speakers = int(net.backbone.num_speakers)
        self.speaker_names = meta.get('speaker_names')
        self._extractor_options = _with_device(extractor_options, self.recipe,
                                               self.modalities, device)
        self._extractors = None
        if self.recipe is not None:  # a recipe that cannot be honoured fails now
            self.extractors
        self.asr_options = dict(asr or {})
        self.segmenter_options = dict(segmenter_options or {})
        self._transcriber = None

    # ------------------------------------------------------------------ set-up
    @property
    def extractors(self) -> dict:
        """Modality -> the recorded extractor (built once; :class:`RecipeError` if the
        recipe cannot be honoured)."""
        if self._extractors is None:
            self._extractors = build_recipe_extractors(
                self.recipe, self.modalities, self.model.backbone.input_dims,
                self.checkpoint, self._extractor_options)
        return self._extractors

    @property
    def transcriber(self):
        """The speech recogniser of recordings without a transcript (a
        :class:`~vega_mm.encoders.asr.WhisperTranscriber` built from ``asr`` on first
        use)."""
        if self._transcriber is None:
            from vega_mm.encoders.asr import WhisperTranscriber
            self._transcriber = WhisperTranscriber(**self.asr_options)
        return self._transcriber

    def recording(self, media: str, transcript: Optional[str] = None,
                  num_speakers: Optional[int] = None, dialogue_id: Optional[str] = None,
                  log=print) -> Dialogue:
        """The conversation of an audio or video file, ready to be labelled
        (:func:`~vega_mm.apis.recording.recording_dialogue`: the transcript's utterances,
        or voice-activity detection and Whisper).

        A model trained without speaker names (speaker indices) gets each voice's
        index by order of appearance; names it knows are looked up as for tables.
        """
        if transcript is None:
            check_streams(media, probe_media(media), self.modalities, transcript)
        transcriber = None if transcript is not None else self.transcriber  # loads Whisper
        dialogue = recording_dialogue(media, transcript=transcript, transcriber=transcriber,
                                      num_speakers=num_speakers, modalities=self.modalities,
                                      dialogue_id=dialogue_id,
                                      segmenter_options=self.segmenter_options, log=log)
        if not self.speaker_names:
            order: Dict[Any, int] = {}
            for u in dialogue.utterances:
                u.speaker = order.setdefault(u.speaker, len(order))
            if len(order) > self.num_speakers:
                raise RecipeError(f'{media}: {len(order)} speakers, but the model knows '
                                  f'{self.num_speakers} ({self.checkpoint})')
        return dialogue

    def _init_pipeline(self, cfg):
        return _test_pipeline(self.model)

    # ------------------------------------------------------------------ inputs
    def _inputs_to_list(self, inputs) -> list:
        """Any accepted input -> a list of raw dialogues (features computed)."""
        if isinstance(inputs, (str, Dialogue)) or (isinstance(inputs, Mapping)):
            inputs = [inputs]
        elif isinstance(inputs, Sequence) and inputs and isinstance(inputs[0], Mapping) \
                and not {'utterances', 'features'} & set(inputs[0]):
            inputs = [list(inputs)]  # one conversation given as its utterance dicts
        raw, dialogues = [], []
        for k, item in enumerate(inputs):
            if is_recording(item):
                dialogues.append(self.recording(os.fspath(item)))
            elif isinstance(item, str) and detect_format(item).kind == FEATURES:
                raw.extend(self._feature_file(item))
            elif isinstance(item, str):  # a conversation table
                # repaired bytes are told, as tools/extract_features.py tells them
                dialogues.extend(load_dialogues(
                    item, 'test', log=lambda msg: print(msg, file=sys.stderr, flush=True)))
            elif isinstance(item, Dialogue):
                dialogues.append(item)
            elif isinstance(item, Mapping) and 'features' in item:  # a raw dialogue
                raw.append(self._check_raw(dict(item), f'dialogue {item.get("dialogue_id")!r}'))
            elif isinstance(item, Mapping):
                dialogues.append(dialogue_from_records(
                    item['utterances'], str(item.get('dialogue_id', f'conversation_{k}'))))
            else:
                dialogues.append(dialogue_from_records(list(item), f'conversation_{k}'))
        return raw + self.featurize(dialogues)

    def _feature_file(self, path: str) -> List[dict]:
        coll = load_conversations(path)
        missing = [m for m in self.modalities if m not in coll.modalities]
        if missing:
            raise RecipeError(f'{path}: the model uses {list(self.modalities)} but the file '
                              f'has {list(coll.modalities)}')
        theirs = (coll.extra or {}).get('extractors') or {}
        ours = (self.recipe or {}).get('extractors') or {}
        differ = [m for m in self.modalities if m in theirs and m in ours
                  and theirs[m] != ours[m]]
        if differ:
            raise RecipeError(f'{path}: its {differ} features were made with '
                              f'{[theirs[m] for m in differ]}, the model was trained on '
                              f'{[ours[m] for m in differ]}')
        self._check_standardisation(coll.extra, path)
        if list(coll.classes) != list(self.classes):
            raise RecipeError(f'{path}: classes {list(coll.classes)} differ from the '
                              f"model's {self.classes}")
        return [self._check_raw(d, path) for d in coll.dialogues]

    def _check_standardisation(self, extra: Optional[Mapping[str, Any]], path: str) -> None:
        """A feature file's features must be standardised as the model's were: both or
        neither, and with the same statistics (a file without a recipe, such as the
        public pickles, records nothing to compare)."""
        theirs = feature_recipe(extra or {}, self.modalities)
        ours = self.recipe
        if not theirs or not ours:
            return
        for m in self.modalities:
            a, b = (_stats_of(r, m) for r in (theirs, ours))
            if a is None and b is None:
                continue
            if a is None or b is None:
                raise RecipeError(
                    f'{path}: its {m} features are {"not " if a is None else ""}standardised '
                    f'but the model was trained on {"not " if b is None else ""}standardised '
                    f'ones ({self.checkpoint}): its inputs would be on another scale. Use a '
                    'file made as the training file was, or the raw conversation (the '
                    "model's recipe standardises it)")
            if not _same_stats(a, b):
                raise RecipeError(
                    f'{path}: its {m} features were standardised with other statistics '
                    f'({_describe_stats(a)}) than the model was trained with '
                    f'({_describe_stats(b)}, {self.checkpoint}): its inputs would be on '
                    'another scale. Use features standardised with the training file\'s '
                    "statistics, or the raw conversation (the model's recipe standardises it)")

    def _check_raw(self, dialogue: dict, where: str) -> dict:
        """A raw dialogue with the model's modalities only (a missing one is an error)."""
        feats = dialogue['features']
        missing = [m for m in self.modalities if m not in feats]
        if missing:
            raise RecipeError(f'{where}: the model uses {list(self.modalities)} but '
                              f'{dialogue.get("dialogue_id")!r} has {sorted(feats)}')
        return dict(dialogue, features={m: feats[m] for m in self.modalities})

    def featurize(self, dialogues: Sequence[Dialogue]) -> List[dict]:
        """Dialogues of utterances -> raw dialogue dicts with the recorded features.

        Everything is checked (recipe, speakers, media) before any encoder runs.
        """
        if not dialogues:
            return []
        extractors = self.extractors
        utts = [u for d in dialogues for u in d.utterances]
        for m in self.modalities:
            extractor_class(m, self.recipe['extractors'][m]).check_utterances(utts)
        speakers = [speaker_indices([u.speaker for u in d.utterances], self.speaker_names,
                                    self.num_speakers, d.utterances[0].source)
                    for d in dialogues]
        feats = dialogue_features(dialogues, extractors, self.recipe)
        return [dict(dialogue_id=d.dialogue_id, features=f, speakers=s,
                     labels=np.full(len(d), -1, dtype=np.int64),
                     utterance_ids=[u.utterance_id for u in d.utterances],
                     speaker_names=[u.speaker for u in d.utterances],
                     texts=[u.text for u in d.utterances],
                     starts=[u.start for u in d.utterances],
                     ends=[u.end for u in d.utterances],
                     gt_labels=[u.label for u in d.utterances])
                for d, f, s in zip(dialogues, feats, speakers)]

    # ------------------------------------------------------------------ model
    def preprocess(self, inputs: list, batch_size: int = 1, **kwargs) -> Iterable:
        chunks = self._get_chunk_data(
            (self.pipeline(dict(d, sample_idx=i)) for i, d in enumerate(inputs)),
            batch_size)
        yield from map(conversation_collate, chunks)

    @torch.no_grad()
    def forward(self, inputs: dict, **kwargs) -> list:
        """One batch -> its data samples with the model's prediction fields
        (``model.test_step``), under autocast with ``precision='bf16'``; floating-point
        fields come back in fp32 either way."""
        dtype = PRECISIONS[self.precision]
        if dtype is None:
            return self.model.test_step(inputs)
        device = next(self.model.parameters()).device.type
        with torch.autocast(device_type=device, dtype=dtype):
            samples = self.model.test_step(inputs)
        for sample in samples:  # scores and similarities: fp32, as without autocast
            for key, value in sample.items():
                if isinstance(value, torch.Tensor) and value.dtype == dtype:
                    sample.set_field(value.float(), key)
                elif isinstance(value, dict):
                    sample.set_field({k: v.float() if isinstance(v, torch.Tensor)
                                      and v.dtype == dtype else v
                                      for k, v in value.items()}, key)
        return samples

    def __call__(self, inputs, batch_size: int = 16) -> List[dict]:
        """Predict every utterance of ``inputs`` (see the class docstring);
        ``batch_size`` dialogues go through the model at a time."""
        dialogues = self._inputs_to_list(inputs)
        preds = []
        for batch in self.preprocess(dialogues, batch_size=batch_size):
            preds.extend(self.forward(batch))
        return self.postprocess(preds, dialogues)

    def postprocess(self, preds: list, dialogues: List[dict]) -> List[dict]:
        """Per utterance: ``dialogue_id``, ``utterance_id``, ``speaker``, ``text``,
        ``start`` and ``end`` (seconds, only where the input has them), ``pred_label``
        (the predicted class), ``pred_label_index``, ``gt_label`` (the
        gold class, only where the input has one: a table's label column, a feature
        file's labels), ``probabilities`` {class: p}, ``anchor_similarity`` {class:
        cosine to its anchor, fused anchor branch} (VEGA models) and
        ``branch_predictions`` {branch: class} (``anchor_`` prefix: anchor space)."""
        out = []
        for sample, dia in zip(preds, dialogues):
            out.extend(self.utterance_results(sample, dia))
        return out

    def utterance_results(self, sample, dia: dict,
                          positions: Optional[Sequence[int]] = None) -> List[dict]:
        """The per-utterance records of one dialogue's predicted data sample (its
        fields as the model's head wrote them; nothing is recomputed), with the
        utterance's ``start``/``end`` (seconds) after ``text`` where the input has them."""
        probs = sample.pred_score
        labels = sample.pred_label.tolist()
        cosine = sample.get('anchor_similarity')
        branch = sample.branch_pred_labels
        n = probs.shape[0]
        gold = self._gold_labels(dia, n)
        results = []
        for i in (range(n) if positions is None else positions):
            label = int(labels[i])
            r = dict(dialogue_id=dia['dialogue_id'],
                     utterance_id=(dia.get('utterance_ids') or [str(j) for j in range(n)])[i],
                     speaker=(dia.get('speaker_names') or [None] * n)[i],
                     text=(dia.get('texts') or [None] * n)[i])
            for key in ('start', 'end'):
                value = (dia.get(key + 's') or [None] * n)[i]
                if value is not None:
                    r[key] = float(value)
            r.update(pred_label=self.classes[label], pred_label_index=label)
            if gold[i] is not None:
                r['gt_label'] = gold[i]
            r['probabilities'] = {c: float(p) for c, p in zip(self.classes, probs[i])}
            if cosine is not None:
                r['anchor_similarity'] = {c: float(s) for c, s in zip(self.classes, cosine[i])}
            r['branch_predictions'] = {k: self.classes[int(v[i])] for k, v in branch.items()}
            results.append(r)
        return results

    def _gold_labels(self, dia: dict, n: int) -> List[Optional[str]]:
        """The gold class of each utterance, None where unlabelled: the table's label
        column (``gt_labels``, as written) or a feature file's label indices."""
        if dia.get('gt_labels') is not None:
            return list(dia['gt_labels'])
        labels = dia.get('labels')
        if labels is None:
            return [None] * n
        return [self.classes[int(k)] if 0 <= int(k) < len(self.classes) else None
                for k in labels]

    def stream(self, dialogue_id: str = 'live', asr_model: Optional[str] = None,
               asr_options: Optional[dict] = None,
               segmenter_options: Optional[dict] = None) -> StreamSession:
        """A live session: :meth:`StreamSession.add` labels each new utterance at once
        (see :class:`~vega_mm.apis.streaming.StreamSession` for non-causal models).

        Given any of ``asr_model`` (see :func:`~vega_mm.encoders.whisper.resolve_asr_model`),
        ``asr_options`` (other arguments of :class:`~vega_mm.encoders.asr.WhisperTranscriber`)
        or ``segmenter_options`` (of :class:`~vega_mm.features.speech.SpeechSegmenter`),
        the session listens to audio now (:meth:`StreamSession.listen`), so a model that
        cannot be fed transcripts alone is refused here."""
        session = StreamSession(self, dialogue_id)
        if asr_model is not None or asr_options or segmenter_options:
            asr = dict(asr_options or {})
            if asr_model is not None:
                if asr.get('model', asr_model) != asr_model:
                    raise ValueError(f'stream: asr_model={asr_model!r} contradicts '
                                     f"asr_options['model']={asr['model']!r}")
                asr['model'] = asr_model
            session.listen(asr, dict(segmenter_options or {}))
        return session
