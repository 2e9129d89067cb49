"""From conversations to emotions in one call, shaped like mmpretrain's inferencers.

::

    inferencer = ConversationInferencer('configs/vega/vega_meld_text.py', 'best.pth')
    records = inferencer('transcript.jsonl', batch_size=16)   # or utterance dicts
    records[0]['pred_class'], records[0]['pred_score']          # 'joy', 0.71
    inferencer('talk.mp4', show_dir='pictures/')                # + the timeline picture
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

from vega_mm.conversations import Dialogue, dialogue_from_records, load_dialogues
from vega_mm.datasets.collate import conversation_collate
from vega_mm.datasets.conversation_dataset import feature_recipe
from vega_mm.datasets.formats import FEATURES, detect_format, load_conversations
from vega_mm.features.base import extractor_class
from vega_mm.speech.media import probe_media
from vega_mm.structures.records import prediction_records
from .inference import _test_pipeline, init_model
from .outputs import write_timelines
from .recipe import RecipeError, build_recipe_extractors, dialogue_features, speaker_indices
from .recording import check_streams, is_recording, recording_dialogue
from .streaming import StreamSession

__all__ = ['ConversationInferencer']

#: Dict inputs that are not one utterance: a conversation, a raw dialogue, a recording
#: with options, a feature file's split.
_INPUT_KEYS = frozenset({'utterances', 'features', 'recording', 'feature_file'})
#: A raw dialogue's per-utterance lists that travel in its data sample's meta fields.
_CONVERSATION_META = ('speaker_names', 'texts', 'starts', 'ends', 'gt_labels')


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

    mmpretrain's :class:`~mmpretrain.apis.BaseInferencer` workflow: ``__call__`` (not
    overridden) turns the inputs into conversations (:meth:`_inputs_to_list`, the one
    place inputs are told apart), :meth:`preprocess` packs them in batches,
    :meth:`forward` is ``model.test_step``, :meth:`visualize` draws each timed
    conversation's emotion timeline into ``show_dir`` and :meth:`postprocess` returns
    the prediction records (or the data samples with ``return_datasamples=True``).

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
        asr: settings of the speech recogniser for recordings without a transcript
            (:class:`~vega_mm.speech.asr.WhisperTranscriber`'s arguments).
        segmenter_options: settings of the voice-activity detection
            (:class:`~vega_mm.speech.segments.SpeechSegmenter`).

    Call with one input or a list of them (:meth:`_inputs_to_list`): a conversation
    table or subtitles (``.csv``/``.tsv``/``.jsonl``/``.srt``/``.vtt``, columns as
    ``tools/extract_features.py`` reads them), a feature file (``.npz``/``.pkl``), a
    recording (``.wav``/``.mp3``/``.mp4``/...), ``dict(recording=path,
    transcript=None, num_speakers=None)``, ``dict(feature_file=path, split='test')``, a
    list of utterance dicts ``{speaker, text, [media, start, end, label]}`` (one
    conversation), ``{'dialogue_id': ..., 'utterances': [...]}``, a
    :class:`~vega_mm.conversations.Dialogue`, or a raw dialogue with ``features``.
    Keywords: ``batch_size`` (dialogues per batch), ``return_datasamples``,
    ``show_dir``. Returns one prediction record per utterance
    (:mod:`vega_mm.structures.records`).
    """
    preprocess_kwargs: set = set()
    forward_kwargs: set = set()
    visualize_kwargs: set = {'show_dir'}
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
        # init_model reads the checkpoint with vega_mm's checks (digest, the training
        # config's prediction keys); BaseInferencer.__init__ would load it again and read
        # the network's private _config, so its attributes are set here from the public
        # ``model.cfg`` instead
        net = init_model(model, pretrained, device=device or 'cpu', cfg_options=cfg_options)
        self.model = net.eval()
        self.config = net.cfg
        self.pipeline = self._init_pipeline(self.config)
        self.visualizer = None
        self.checkpoint = pretrained
        meta = getattr(net, 'dataset_meta', None) or {}
        self.dataset_meta = meta
        self.recipe = meta.get('feature_recipe')
        self.classes = [str(c) for c in (meta.get('classes') or net.cfg.model.get('classes')
                                         or range(net.head.num_classes))]
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
        :class:`~vega_mm.speech.asr.WhisperTranscriber` built from ``asr`` on first
        use)."""
        if self._transcriber is None:
            from vega_mm.speech.asr import WhisperTranscriber
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
    def _inputs_to_list(self, inputs) -> List[dict]:
        """Any accepted input (see the class docstring) -> a list of raw dialogues,
        their features computed: the one place inputs are told apart."""
        if isinstance(inputs, (str, os.PathLike, Dialogue, Mapping)):
            inputs = [inputs]
        elif isinstance(inputs, Sequence) and inputs and isinstance(inputs[0], Mapping) \
                and not _INPUT_KEYS & set(inputs[0]):
            inputs = [list(inputs)]  # one conversation given as its utterance dicts
        raw, dialogues = [], []
        for k, item in enumerate(inputs):
            if isinstance(item, os.PathLike):
                item = os.fspath(item)
            if isinstance(item, Mapping) and 'recording' in item:
                dialogues.append(self._noted_recording(
                    os.fspath(item['recording']), transcript=item.get('transcript'),
                    num_speakers=item.get('num_speakers'),
                    dialogue_id=item.get('dialogue_id')))
            elif isinstance(item, Mapping) and 'feature_file' in item:
                raw.extend(self._feature_file(os.fspath(item['feature_file']),
                                              item.get('split')))
            elif is_recording(item):
                dialogues.append(self._noted_recording(item))
            elif isinstance(item, str) and detect_format(item).kind == FEATURES:
                raw.extend(self._feature_file(item))
            elif isinstance(item, str):  # a conversation table or subtitles
                # repaired bytes are told, as tools/extract_features.py tells them
                dialogues.extend(load_dialogues(
                    item, 'test', log=lambda msg: print(msg, file=sys.stderr, flush=True)))
            elif isinstance(item, Dialogue):
                dialogues.append(item)
            elif isinstance(item, Mapping) and 'features' in item:  # a raw dialogue
                raw.append(self._check_raw(dict(item), f'dialogue {item.get("dialogue_id")!r}'))
            elif isinstance(item, Mapping):
                if 'utterances' not in item:
                    raise ValueError(
                        f'input {k}: a dict with keys {sorted(item)}; expected a '
                        "conversation {'dialogue_id', 'utterances'}, dict(recording=...), "
                        "dict(feature_file=...), a raw dialogue with 'features', or a list "
                        'of utterance dicts {speaker, text, ...}')
                dialogues.append(dialogue_from_records(
                    item['utterances'], str(item.get('dialogue_id', f'conversation_{k}'))))
            else:
                dialogues.append(dialogue_from_records(list(item), f'conversation_{k}'))
        return raw + self.featurize(dialogues)

    def _noted_recording(self, path: str, **options) -> Dialogue:
        """:meth:`recording`, saying on stderr what it does (speech recognition is slow)."""
        how = f' in {options["transcript"]}' if options.get('transcript') else \
            ' (speech recognition)'
        print(f'{path}: finding the utterances{how} ...', file=sys.stderr, flush=True)
        dialogue = self.recording(path, log=lambda s: print(s, file=sys.stderr), **options)
        print(f'{path}: {len(dialogue)} utterances', file=sys.stderr, flush=True)
        return dialogue

    def _feature_file(self, path: str, split: Optional[str] = None) -> List[dict]:
        """The dialogues of a feature file (of one ``split`` when given), checked
        against the model (modalities, extractors, standardisation, classes)."""
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
        dialogues = coll.dialogues if split is None else coll.get_split(split)
        return [self._check_raw(d, path) for d in dialogues]

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
    def pack(self, dialogue: Mapping[str, Any], index: int = 0) -> dict:
        """One raw dialogue through the test pipeline, its data sample carrying the
        conversation (``speaker_names``, ``texts``, ``starts``, ``ends``, ``gt_classes``
        where the input has them) so that its prediction records
        (:func:`~vega_mm.structures.records.prediction_records`) are complete."""
        packed = self.pipeline(dict(dialogue, sample_idx=index))
        meta = {key: list(dialogue[key]) for key in _CONVERSATION_META
                if dialogue.get(key) is not None
                and any(v is not None for v in dialogue[key])}
        if 'gt_labels' in meta:
            meta['gt_classes'] = meta.pop('gt_labels')
        packed['data_samples'].set_metainfo(meta)
        return packed

    def preprocess(self, inputs: List[dict], batch_size: int = 1, **kwargs) -> Iterable:
        """Raw dialogues -> batches of ``batch_size`` packed dialogues
        (:func:`~vega_mm.datasets.conversation_collate` pads them)."""
        chunks = self._get_chunk_data((self.pack(d, i) for i, d in enumerate(inputs)),
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

    def records(self, data_sample) -> List[dict]:
        """The prediction record of every utterance of one predicted data sample."""
        return prediction_records(data_sample, self.classes)

    def visualize(self, inputs: list, preds: list, show_dir: Optional[str] = None,
                  **kwargs) -> List[Optional[str]]:
        """With ``show_dir``: the emotion timeline of every conversation whose
        utterances have times (:func:`~vega_mm.analysis.plot_emotion_timeline`) as
        ``show_dir/<dialogue_id>_timeline.png``.

        Returns:
            The picture of each conversation (None: no ``show_dir``, or no times).
        """
        if not show_dir:
            return [None] * len(preds)
        return [write_timelines(self.records(sample), self.classes, show_dir)[0]
                for sample in preds]

    def postprocess(self, preds: list, visualization: Optional[list] = None,
                    return_datasamples: bool = False, **kwargs) -> list:
        """The predicted data samples (``return_datasamples=True``, one per
        conversation) or the prediction record of every utterance
        (:func:`~vega_mm.structures.records.prediction_records`: ``dialogue_id``,
        ``utterance_id``, ``speaker``, ``text``, ``start``/``end`` where known,
        ``pred_label``, ``pred_class``, ``pred_score``, ``gt_label``/``gt_class`` where
        labelled, ``pred_scores``, ``anchor_similarity``, ``branch_predictions``), in
        input order. The pictures of :meth:`visualize` are files in ``show_dir``."""
        if return_datasamples:
            return list(preds)
        return [r for sample in preds for r in self.records(sample)]

    def stream(self, dialogue_id: str = 'live', asr_model: Optional[str] = None,
               asr_options: Optional[dict] = None,
               segmenter_options: Optional[dict] = None) -> StreamSession:
        """A live session: :meth:`StreamSession.add` labels each new utterance at once
        (see :class:`~vega_mm.apis.streaming.StreamSession` for non-causal models).

        Given any of ``asr_model`` (see :func:`~vega_mm.encoders.whisper.resolve_asr_model`),
        ``asr_options`` (other arguments of :class:`~vega_mm.speech.asr.WhisperTranscriber`)
        or ``segmenter_options`` (of :class:`~vega_mm.speech.segments.SpeechSegmenter`),
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
