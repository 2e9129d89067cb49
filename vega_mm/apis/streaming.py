"""Live mode: label each utterance of a conversation as soon as it is said.

A :class:`StreamSession` keeps the features of the utterances it has seen (each one is
encoded once, when it arrives) and runs the conversation model on the conversation so
far at every :meth:`~StreamSession.add`.  With a causal backbone
(``SDTBackbone(causal=True)``, e.g. ``configs/vega/vega_meld_text_causal.py``) an
utterance's output depends only on itself and earlier utterances, so the streamed
predictions are exactly those of the whole conversation run offline.  A non-causal
model can be streamed too, but it was trained to look at later utterances as well: its
answer for an utterance is what it would say if the conversation ended there, and the
same model run offline on the whole conversation may label earlier utterances
differently.

A session can also listen to audio (a recording replayed, or a microphone's chunks):
:meth:`~StreamSession.listen` gives it a voice-activity detector
(:class:`~vega_mm.speech.segments.SpeechSegmenter`) and a transcriber
(:class:`~vega_mm.speech.asr.WhisperTranscriber`), :meth:`~StreamSession.add_audio`
takes 16 kHz chunks and returns the prediction of each utterance that closed in them,
and :meth:`~StreamSession.finish_audio` ends the input::

    session = inferencer.stream(asr_model='base')     # or inferencer.stream().listen()
    for chunk, arrival in replay('talk.wav'):         # vega_mm.speech.segments.replay
        for r in session.add_audio(chunk):
            print(r['start'], r['end'], r['text'], r['pred_class'])
    for r in session.finish_audio():
        print(r['start'], r['end'], r['text'], r['pred_class'])

Only the transcripts reach the model, so a model that uses audio or visual features
cannot be fed this way.
"""
import warnings
from typing import Any, Dict, List, Optional, Union

import numpy as np

from vega_mm.conversations import Dialogue, Utterance, dialogue_from_records
from vega_mm.datasets.collate import conversation_collate
from vega_mm.features.base import extractor_class
from vega_mm.speech.asr import WhisperTranscriber
from vega_mm.speech.segments import (SPEECH_SAMPLING_RATE, SpeechSegmenter,
                                     TranscriptReport, transcribe_segments)
from .recipe import dialogue_features, speaker_indices

__all__ = ['StreamSession']


class StreamSession:
    """One live conversation; made by ``ConversationInferencer.stream()``.

    Args:
        inferencer: a :class:`~vega_mm.apis.ConversationInferencer` whose checkpoint
            has a feature recipe.
        dialogue_id: the id reported with every prediction.

    Attributes:
        results (list): every prediction returned so far, in order.
        audio_report (TranscriptReport): with audio (:meth:`listen`), the utterances the
            voice-activity detection found and those without words (skipped).
    """

    def __init__(self, inferencer, dialogue_id: str = 'live') -> None:
        self.inferencer = inferencer
        self.dialogue_id = dialogue_id
        self.extractors = inferencer.extractors  # a recipe error shows here, not later
        self.max_len = inferencer.max_len  # None: the backbone has no limit
        self.causal = inferencer.causal
        if not self.causal:
            warnings.warn(
                'streaming a non-causal model: each answer uses the conversation so far '
                'only, while the model was trained to use later utterances too, so its '
                'offline predictions of the whole conversation may differ (train a causal '
                'config such as configs/vega/vega_meld_text_causal.py for a live mode '
                'whose answers never change)', stacklevel=2)
        self._feats: Dict[str, List[np.ndarray]] = {m: [] for m in self.extractors}
        self._speakers: List[int] = []
        self._dialogue = dict(dialogue_id=dialogue_id, utterance_ids=[], speaker_names=[],
                              texts=[], starts=[], ends=[])
        self.results: List[dict] = []
        self._utterances: List[Utterance] = []  # what extractors with past_turns read
        self.segmenter: Optional[SpeechSegmenter] = None  # set by listen()
        self.transcriber = None
        self.speaker = 'speaker'
        self.audio_report = TranscriptReport()

    def __len__(self) -> int:
        return len(self._speakers)

    def add(self, speaker: Any = 'unknown', text: Optional[str] = None,
            media: Optional[str] = None, start: Optional[float] = None,
            end: Optional[float] = None, utterance_id: Optional[str] = None) -> dict:
        """Add the next utterance and return its prediction record
        (:mod:`vega_mm.structures.records`, as :meth:`ConversationInferencer.postprocess`).

        Raises:
            ValueError / ConversationTableError / RecipeError: a bad utterance (an
                empty text, one that is not valid Unicode, an unknown speaker: the
                checks of :func:`~vega_mm.conversations.make_utterance`, as for a
                table row), or a conversation longer than the model's positional
                encoding (``max_len``). After any error the session is unchanged.
        """
        inf = self.inferencer
        i = len(self)
        if self.max_len is not None and i >= self.max_len:
            raise ValueError(f'stream {self.dialogue_id!r}: the model covers at most '
                             f'{self.max_len} utterances (backbone max_len)')
        record = dict(speaker=speaker, text=text, media=media, start=start, end=end,
                      utterance_id=str(i) if utterance_id is None else str(utterance_id))
        dia = dialogue_from_records([{k: v for k, v in record.items() if v is not None}],
                                    self.dialogue_id)
        utt = dia.utterances[0]
        for m in self.extractors:
            extractor_class(m, inf.recipe['extractors'][m]).check_utterances([utt])
        idx = speaker_indices([utt.speaker], inf.speaker_names, inf.num_speakers,
                              utt.source)[0]
        new = self._features(utt)
        # the conversation with the new utterance; the session keeps it only once the
        # model has answered, so any failure above or below leaves the session as it was
        feats = {m: self._feats[m] + [new[m]] for m in self._feats}
        speakers = self._speakers + [int(idx)]
        new_utt = dict(utterance_ids=utt.utterance_id, speaker_names=utt.speaker,
                       texts=utt.text, starts=utt.start, ends=utt.end)
        dialogue = dict(self._dialogue, **{k: self._dialogue[k] + [v]
                                           for k, v in new_utt.items()})
        raw = dict(dialogue, features={m: np.stack(v) for m, v in feats.items()},
                   speakers=np.asarray(speakers, dtype=np.int64),
                   labels=np.full(i + 1, -1, dtype=np.int64))
        sample = inf.forward(conversation_collate([inf.pack(raw)]))[0]
        result = inf.records(sample)[i]
        self._feats, self._speakers, self._dialogue = feats, speakers, dialogue
        self._utterances.append(utt)
        self.results.append(result)
        return result

    def _features(self, utt: Utterance) -> Dict[str, np.ndarray]:
        """The new utterance's features per modality; an extractor whose features use
        the previous turns (``past_turns``) gets them, so they equal the offline ones."""
        out = {}
        for m, ext in self.extractors.items():
            past = self._utterances[-ext.past_turns:] if ext.past_turns else []
            dialogue = Dialogue(self.dialogue_id, [*past, utt])
            out[m] = dialogue_features([dialogue], {m: ext}, self.inferencer.recipe)[0][m][-1]
        return out

    # ------------------------------------------------------------------ audio
    def listen(self, transcriber: Union[None, dict, Any] = None,
               segmenter: Union[None, dict, SpeechSegmenter] = None,
               speaker: Any = 'speaker') -> 'StreamSession':
        """Make the session take audio (:meth:`add_audio`); returns the session.

        Args:
            transcriber: an object with ``transcribe(samples) -> str``, or the keyword
                arguments of :class:`~vega_mm.speech.asr.WhisperTranscriber`
                (``None``: Whisper base with its defaults).
            segmenter: a :class:`~vega_mm.speech.segments.SpeechSegmenter` or its keyword
                arguments (``None``: the defaults).
            speaker: the speaker name (or index) given to every utterance heard; a name
                the model does not know takes its ``'other'`` speaker, as in :meth:`add`.

        Raises:
            ValueError: the model uses a modality other than text (only transcripts come
                out of an audio stream).
            RecipeError: ``speaker`` is unknown to a model without an ``'other'`` speaker.
        """
        others = [m for m in self.inferencer.modalities if m != 'text']
        if others:
            raise ValueError(
                f'stream {self.dialogue_id!r}: the model uses {list(self.inferencer.modalities)}'
                f' but an audio stream gives it the transcripts only: the {others} features '
                'of live audio are not computed; use a text-only model, or add utterances '
                'with their media through add()')
        inf = self.inferencer
        speaker_indices([speaker], inf.speaker_names, inf.num_speakers,
                        f'stream {self.dialogue_id!r}, listen()')  # known to the model
        if segmenter is None or isinstance(segmenter, dict):
            segmenter = SpeechSegmenter(**(segmenter or {}))
        if transcriber is None or isinstance(transcriber, dict):
            transcriber = WhisperTranscriber(**(transcriber or {}))
        self.segmenter, self.transcriber, self.speaker = segmenter, transcriber, speaker
        self.audio_report = TranscriptReport()
        segmenter.reset()
        return self

    def add_audio(self, chunk: np.ndarray,
                  sampling_rate: int = SPEECH_SAMPLING_RATE) -> List[dict]:
        """Take the next audio samples (float32 mono, any length) and return the
        predictions of the utterances that closed in them, each with its ``start`` and
        ``end`` (seconds since the first chunk) and its transcript as ``text``.
        Utterances without words are skipped (counted in :attr:`audio_report`).

        Listens with the defaults (:meth:`listen`) at the first chunk if
        :meth:`listen` was not called.  A chunk that closes an utterance costs its
        transcription and one :meth:`add`; the others only the voice-activity detection.

        Raises:
            ValueError: ``sampling_rate`` is not 16000 (resample first:
                :func:`~vega_mm.speech.segments.read_audio_blocks` and
                :func:`~vega_mm.speech.segments.replay` give 16 kHz), or as :meth:`add`.
        """
        if self.segmenter is None:
            self.listen()
        if int(sampling_rate) != self.segmenter.sampling_rate:
            raise ValueError(f'stream {self.dialogue_id!r}: audio chunks must be sampled at '
                             f'{self.segmenter.sampling_rate} Hz, got {sampling_rate} Hz '
                             '(read_audio_blocks and replay resample)')
        return self._label(self.segmenter.feed(chunk))

    def finish_audio(self) -> List[dict]:
        """End of the audio: the predictions of the utterance still open, if any
        (``[]`` without one).  A later :meth:`add_audio` starts a new recording at time
        0 in the same conversation."""
        if self.segmenter is None:
            return []
        return self._label(self.segmenter.flush())

    def _label(self, segments) -> List[dict]:
        out = []
        for utt in transcribe_segments(segments, self.transcriber, self.audio_report):
            out.append(self.add(speaker=self.speaker, **utt))
        return out
