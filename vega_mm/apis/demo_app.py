"""The demo page: a trained model in a browser (``python tools/demo_app.py CONFIG CKPT``).

:class:`DemoApp` loads a :class:`~vega_mm.apis.ConversationInferencer` once and
:meth:`DemoApp.build` makes a Gradio page with four tabs:

- *Transcript*: "Speaker: text" lines pasted, or a JSONL/CSV/SRT/VTT file: a table of
  utterances (speaker, text, emotion, its probability) and the emotion timeline;
- *Recording*: an audio or video file (optionally with its subtitles): voice-activity
  segments and Whisper text with times, the table, the timeline, and the labelled SRT and
  JSONL to download;
- *Microphone*: each utterance labelled by the (causal) model as it closes, with its
  delay, in a growing table and timeline;
- *VEGA's view*: for a chosen utterance, its cosine similarity to every class anchor and
  each branch's prediction.

Every prediction is the inferencer's own record (what ``tools/infer.py`` writes), read
through :func:`prediction_view` only. Each browser session has its own state (results,
live stream, uploads folder); the folder and the files the session uploaded are deleted
when the session ends. A bad input (wrong file type, silence, an empty transcript, a file
over the limits, a second upload while one runs) gets a one-line message in the page; no
input stops the server.

Gradio is the ``app`` extra (``pip install 'vega_mm[app]'``); it is imported by
:meth:`DemoApp.build` only.
"""
import html
import inspect
import os
import queue
import shutil
import tempfile
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from vega_mm.speech.media import MediaError, probe_media
from .recipe import RecipeError
from .recording import RECORDING_EXTENSIONS, is_recording

__all__ = ['DemoApp', 'DemoLimits', 'DemoProblem', 'prediction_view', 'parse_pasted_transcript',
           'TRANSCRIPT_EXTENSIONS', 'TABLE_COLUMNS']

#: Transcript files the page takes (the table formats of ``tools/infer.py``).
TRANSCRIPT_EXTENSIONS = ('.jsonl', '.csv', '.srt', '.vtt')
#: The columns of the page's tables (``delay (s)``: the microphone only).
TABLE_COLUMNS = ('#', 'start', 'end', 'speaker', 'text', 'emotion', 'probability')
_LIVE_COLUMNS = TABLE_COLUMNS + ('delay (s)', )
# the text takes what the numbers leave, so every column fits the page
_WIDTHS = ('5%', '8%', '8%', '12%', '47%', '10%', '10%')
_LIVE_WIDTHS = ('5%', '7%', '7%', '10%', '42%', '10%', '10%', '9%')
_SAMPLING_RATE = 16000
# The page asks the browser for the microphone's own signal: without this, Chromium's
# default echo cancellation, noise suppression and automatic gain reshape the speech (a
# clean recording arrived clipped), so the live labels would not be those of the same
# speech from a file.
RAW_MICROPHONE_JS = '''<script>
(() => {
  const md = navigator.mediaDevices;
  if (!md || !md.getUserMedia) return;
  const original = md.getUserMedia.bind(md);
  const raw = {echoCancellation: false, noiseSuppression: false, autoGainControl: false,
               channelCount: 1};
  md.getUserMedia = (c) => {
    if (c && c.audio) c = {...c, audio: c.audio === true ? raw : {...raw, ...c.audio}};
    return original(c);
  };
})();
</script>'''


class DemoProblem(ValueError):
    """A bad input of the page; its message is shown to the user as it is."""


def prediction_view(record: Mapping[str, Any]) -> Dict[str, Any]:
    """The one place the page reads a prediction record
    (:func:`~vega_mm.structures.records.prediction_records`: ``pred_label`` int,
    ``pred_class``, ``pred_score``, ``pred_scores``, ``anchor_similarity`` and
    ``branch_predictions`` where the model has them).

    Returns:
        A dict: ``label`` (the class name), ``index`` (int), ``score`` (its probability),
        ``scores`` ({class: p}), ``anchor_similarity`` and ``branch_predictions`` (empty
        dicts where the record has none).
    """
    scores = dict(record.get('pred_scores') or {})
    return dict(label=str(record['pred_class']), index=int(record['pred_label']),
                score=float(record['pred_score']),
                scores={str(k): float(v) for k, v in scores.items()},
                anchor_similarity={str(k): float(v) for k, v in
                                   (record.get('anchor_similarity') or {}).items()},
                branch_predictions=dict(record.get('branch_predictions') or {}))


def parse_pasted_transcript(text: str) -> List[Dict[str, str]]:
    """``"Speaker: text"`` lines -> utterance dicts (empty lines skipped; a line without
    a colon is said by ``'unknown'``, as in ``tools/infer.py --live``).

    Raises:
        DemoProblem: no line with words.
    """
    utterances = []
    for line in (text or '').splitlines():
        if not line.strip():
            continue
        speaker, sep, words = line.partition(':')
        utterances.append(dict(speaker=speaker.strip() if sep else 'unknown',
                               text=words.strip() if sep else line.strip()))
    if not utterances:
        raise DemoProblem('the transcript has no utterances: paste one "Speaker: text" line '
                          'per utterance, or upload a JSONL/CSV/SRT/VTT file')
    return utterances


@dataclass
class DemoLimits:
    """What one request may ask of the server."""
    max_upload_mb: float = 200.0  #: largest file a user may upload
    max_minutes: float = 30.0  #: longest recording or microphone session

    def check_upload(self, path: str, what: str) -> None:
        size = os.path.getsize(path) / 2**20
        if size > self.max_upload_mb:
            raise DemoProblem(f'{what} {os.path.basename(path)!r} is {size:.1f} MB, over '
                              f'the limit of {self.max_upload_mb:g} MB (--max-upload-mb)')

    def check_minutes(self, seconds: float, what: str) -> None:
        if seconds > self.max_minutes * 60:
            raise DemoProblem(f'{what} lasts {seconds / 60:.1f} minutes, over the limit of '
                              f'{self.max_minutes:g} minutes (--max-minutes)')


@dataclass
class _Session:
    """One browser session's state."""
    folder: str
    results: List[dict] = field(default_factory=list)  # the latest tab's predictions
    uploads: List[str] = field(default_factory=list)  # files the session handed in
    busy: Optional[str] = None  # what runs now, if anything
    busy_since: float = 0.0
    stream: Any = None  # the microphone's StreamSession
    chunks: List[Tuple[float, float]] = field(default_factory=list)  # (audio end, arrival)
    audio_seconds: float = 0.0
    live: List[dict] = field(default_factory=list)  # microphone predictions (+ delay)
    live_drawn: int = 0  # microphone utterances in the timeline shown
    live_shown: int = 0  # microphone utterances in the table shown
    audio_start: float = 0.0  # when the microphone's first sample was captured
    live_message: Optional[str] = None  # the microphone's latest news
    live_message_shown: Optional[str] = None  # the news the page shows
    audio: Any = None  # the microphone chunks waiting for the worker (a Queue)
    worker: Any = None  # the session's microphone worker thread
    lock: threading.Lock = field(default_factory=threading.Lock)


def _suffix(path: str) -> str:
    return os.path.splitext(str(path))[1].lower()


def _file_path(value: Any) -> Optional[str]:
    """A Gradio file value (a path, or an object with ``.name``/``path``) -> its path."""
    if value is None:
        return None
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    if isinstance(value, Mapping):
        return value.get('path') or value.get('name')
    return getattr(value, 'path', None) or getattr(value, 'name', None)


def _to_mono_16k(sr: int, samples: np.ndarray) -> np.ndarray:
    """A browser's audio chunk (integer or float, mono or channels last) -> float32 mono
    16 kHz in [-1, 1]."""
    from scipy.signal import resample_poly
    x = np.asarray(samples)
    if np.issubdtype(x.dtype, np.integer):  # scaled before any mean turns it to float
        x = x.astype(np.float32) / float(np.iinfo(x.dtype).max + 1)
    x = x.astype(np.float32)
    if x.ndim == 2:
        x = x.mean(axis=1)
    if int(sr) != _SAMPLING_RATE and x.size:
        g = int(np.gcd(int(sr), _SAMPLING_RATE))
        x = resample_poly(x, _SAMPLING_RATE // g, int(sr) // g).astype(np.float32)
    return x


class DemoApp:
    """The page's logic, independent of the browser (the Gradio callbacks call these).

    Args:
        inferencer: a loaded :class:`~vega_mm.apis.ConversationInferencer`.
        limits: what one request may ask.
        asr_ready: None when speech recognition is available, else why not (recordings
            then need subtitles and the microphone is off).
        title: the page's heading.
    """

    def __init__(self, inferencer, limits: Optional[DemoLimits] = None,
                 asr_ready: Optional[str] = None, title: str = 'vega_mm demo') -> None:
        self.inferencer = inferencer
        self.classes = [str(c) for c in inferencer.classes]
        self.limits = limits or DemoLimits()
        self.asr_problem = asr_ready
        self.title = title
        self._model_lock = threading.Lock()  # one model call at a time (shared weights)
        self._sessions: Dict[str, _Session] = {}
        self._sessions_lock = threading.Lock()
        self.root = tempfile.mkdtemp(prefix='vega_mm_demo_')

    # ------------------------------------------------------------------ sessions
    def session(self, key: str) -> _Session:
        """The state of browser session ``key`` (made on first use)."""
        with self._sessions_lock:
            if key not in self._sessions:
                folder = tempfile.mkdtemp(prefix='session_', dir=self.root)
                self._sessions[key] = _Session(folder=folder)
            return self._sessions[key]

    def end_session(self, key: str) -> None:
        """Forget a session: its folder and every file it uploaded are deleted."""
        with self._sessions_lock:
            state = self._sessions.pop(key, None)
        if state is None:
            return
        self._stop_worker(state)
        for path in state.uploads:
            try:
                os.remove(path)
            except OSError:
                pass
        shutil.rmtree(state.folder, ignore_errors=True)

    def close(self) -> None:
        for key in list(self._sessions):
            self.end_session(key)
        shutil.rmtree(self.root, ignore_errors=True)

    def _claim(self, state: _Session, what: str) -> None:
        """Mark the session busy with ``what``, or refuse while something else runs."""
        with state.lock:
            if state.busy is not None:
                raise DemoProblem(f'{state.busy} is still running (for '
                                  f'{time.time() - state.busy_since:.0f} s): wait for it to '
                                  f'finish, then try the {what} again')
            state.busy, state.busy_since = what, time.time()

    # ------------------------------------------------------------------ records
    def rows(self, records: Sequence[dict], delays: bool = False) -> List[list]:
        """The table of the page: one row per prediction."""
        out = []
        for i, r in enumerate(records):
            v = prediction_view(r)
            row = [i + 1, _seconds(r.get('start')), _seconds(r.get('end')),
                   '' if r.get('speaker') is None else str(r['speaker']), r.get('text') or '',
                   v['label'], round(v['score'], 3)]
            if delays:
                row.append(_seconds(r.get('delay')))
            out.append(row)
        return out

    def timeline(self, records: Sequence[dict], folder: str, name: str,
                 title: Optional[str] = None) -> Optional[str]:
        """The emotion timeline PNG of one conversation's predictions (those of its
        first dialogue); utterances without times are drawn one second apart in order."""
        from vega_mm.analysis import plot_emotion_timeline
        if not records:
            return None
        first = records[0].get('dialogue_id')
        records = [r for r in records if r.get('dialogue_id') == first]
        timed = all(r.get('start') is not None and r.get('end') is not None for r in records)
        if not timed:
            records = [dict(r, start=float(i), end=float(i) + 0.9) for i, r in
                       enumerate(records)]
            title = title or f'{len(records)} utterances in order (no times given)'
        path = os.path.join(folder, f'{name}_{time.time_ns()}.png')
        return plot_emotion_timeline(records, self.classes, path, title=title)

    def choices(self, records: Sequence[dict]) -> List[str]:
        """The utterances offered in VEGA's view."""
        out = []
        for i, r in enumerate(records):
            text = str(r.get('text') or '')
            text = text if len(text) <= 60 else text[:57] + '...'
            out.append(f'{i + 1}. {r.get("speaker")}: {text}')
        return out

    # ------------------------------------------------------------------ transcript
    def label_transcript(self, key: str, pasted: str, upload: Any) -> Tuple[str, list,
                                                                           Optional[str]]:
        """Paste or file -> (message, rows, timeline PNG)."""
        state = self.session(key)
        self._claim(state, 'transcript')
        try:
            path = _file_path(upload)
            if path:
                state.uploads.append(path)
                self.limits.check_upload(path, 'the transcript')
                if _suffix(path) not in TRANSCRIPT_EXTENSIONS:
                    raise DemoProblem(
                        f'{os.path.basename(path)!r} is not a transcript the page reads: '
                        f'give a {"/".join(s[1:].upper() for s in TRANSCRIPT_EXTENSIONS)} '
                        'file, or paste "Speaker: text" lines')
                inputs: Any = path
                source = os.path.basename(path)
            else:
                inputs = dict(dialogue_id='pasted', utterances=parse_pasted_transcript(pasted))
                source = 'the pasted transcript'
            with self._model_lock:
                records = self.inferencer(inputs)
            if not records:
                raise DemoProblem(f'{source} has no utterances to label')
            state.results = records
            png = self.timeline(records, state.folder, 'transcript')
            dialogues = len({r.get('dialogue_id') for r in records})
            note = (f'; the timeline shows the first of {dialogues} dialogues'
                    if dialogues > 1 else '')
            return f'Labelled {len(records)} utterances of {source}{note}.', \
                self.rows(records), png
        finally:
            state.busy = None

    # ------------------------------------------------------------------ recording
    def label_recording(self, key: str, upload: Any, subtitles: Any
                        ) -> Tuple[str, list, Optional[str], List[str]]:
        """Recording (+ subtitles) -> (message, rows, timeline PNG, [SRT, JSONL])."""
        from .outputs import write_predictions
        state = self.session(key)
        self._claim(state, 'recording')
        try:
            media, sub = _file_path(upload), _file_path(subtitles)
            state.uploads.extend(p for p in (media, sub) if p)
            if not media:
                raise DemoProblem('no recording: upload a WAV, MP3 or MP4 file')
            name = os.path.basename(media)
            self.limits.check_upload(media, 'the recording')
            if not is_recording(media):
                raise DemoProblem(f'{name!r} is not a recording the page reads: give a WAV, '
                                  'MP3 or MP4 file (or another of '
                                  f'{", ".join(RECORDING_EXTENSIONS)})')
            if sub:
                self.limits.check_upload(sub, 'the subtitles')
                if _suffix(sub) not in TRANSCRIPT_EXTENSIONS:
                    raise DemoProblem(f'{os.path.basename(sub)!r} is not a transcript: give '
                                      'SRT, VTT, or a CSV/JSONL with start/end columns')
            info = probe_media(media)
            self.limits.check_minutes(float(info.get('duration') or 0.0), f'{name!r}')
            if sub is None and self.asr_problem:
                raise DemoProblem(f'speech recognition is not available ({self.asr_problem}):'
                                  ' upload the recording with its subtitles')
            notes: List[str] = []
            with self._model_lock:
                dialogue = self.inferencer.recording(media, transcript=sub, log=notes.append)
                records = self.inferencer([dialogue])
            if not records:
                raise DemoProblem(f'{name!r}: no utterance to label')
            state.results = records
            stem = os.path.splitext(name)[0] or 'recording'
            png = self.timeline(records, state.folder, 'recording')
            files = []
            for suffix in ('.srt', '.jsonl'):
                out = os.path.join(state.folder, f'{stem}_emotions{suffix}')
                files.append(write_predictions(records, out, classes=self.classes))
            how = 'its subtitles' if sub else 'voice-activity detection and Whisper'
            msg = (f'Labelled {len(records)} utterances of {name!r} '
                   f'({info.get("duration", 0):.1f} s; utterances from {how}).')
            return ' '.join([msg] + notes), self.rows(records), png, files
        finally:
            state.busy = None

    # ------------------------------------------------------------------ microphone
    # The browser drops microphone audio while the server has not answered its last
    # chunk (Gradio's streaming), so a chunk is only queued here and a worker thread per
    # session does the voice-activity detection, Whisper and the model; the answer to
    # each chunk brings the table when it grew.
    def start_live(self, key: str) -> str:
        """A new microphone conversation for the session (its worker thread starts)."""
        if self.asr_problem:
            raise DemoProblem(f'the microphone needs speech recognition, which is not '
                              f'available ({self.asr_problem})')
        state = self.session(key)
        self._stop_worker(state)
        with self._model_lock:
            stream = self.inferencer.stream('microphone')
            stream.listen(transcriber=self.inferencer.transcriber)
        with state.lock:
            state.stream, state.chunks, state.audio_seconds = stream, [], 0.0
            state.live, state.live_drawn, state.live_message = [], 0, None
            state.live_shown = 0
            state.results = state.live
            state.audio = queue.Queue()
            state.worker = threading.Thread(target=self._work, args=(state, state.audio),
                                            name=f'demo-microphone-{key[:8]}', daemon=True)
            state.worker.start()
        return 'Listening: each utterance is labelled when you pause.'

    def live_chunk(self, key: str, chunk: Any) -> None:
        """Queue one microphone chunk ``(sampling rate, samples)`` (returns at once)."""
        arrival = time.time()
        state = self.session(key)
        if state.stream is None:
            self.start_live(key)
        if chunk is None:
            return
        sr, samples = chunk
        x = _to_mono_16k(sr, samples)
        if state.audio_seconds + x.size / _SAMPLING_RATE > self.limits.max_minutes * 60:
            raise DemoProblem(f'the microphone session reached the limit of '
                              f'{self.limits.max_minutes:g} minutes (--max-minutes): stop '
                              'and start again')
        if not state.chunks:  # the recording's first sample, in the server's clock
            state.audio_start = arrival - x.size / _SAMPLING_RATE
        state.audio_seconds += x.size / _SAMPLING_RATE
        state.chunks.append((state.audio_seconds, arrival))
        state.audio.put(x)

    def _work(self, state: _Session, audio: 'queue.Queue') -> None:
        """A session's microphone worker: label the queued chunks in order until the
        end marker (None: the open utterance is labelled) or a stop (False)."""
        while True:
            x = audio.get()
            if x is False:
                return
            try:
                with self._model_lock:
                    new = state.stream.finish_audio() if x is None else \
                        state.stream.add_audio(x)
                self._add_live(state, new)
            except Exception as exc:  # noqa: BLE001 - shown in the page; the server goes on
                if not isinstance(exc, (ValueError, RecipeError)):
                    traceback.print_exc()
                state.live_message = f'**Problem:** {exc}'
            if x is None:
                return

    def _stop_worker(self, state: _Session, finish: bool = False,
                     wait: float = 120.0) -> None:
        """End the session's worker: with ``finish`` after it labels the open utterance
        (waiting up to ``wait`` seconds), else at once."""
        worker, q = getattr(state, 'worker', None), getattr(state, 'audio', None)
        if worker is None or q is None:
            return
        q.put(None if finish else False)
        worker.join(wait if finish else 0.0)
        state.worker = None

    def live_table(self, key: str) -> Tuple[Optional[str], list]:
        """(the latest message, the rows) of the session's microphone table."""
        state = self.session(key)
        return state.live_message, self.rows(list(state.live), delays=True)

    def stop_live(self, key: str, trailing: float = 0.6) -> Tuple[str, list]:
        """The end of the microphone input: the open utterance is labelled. The browser
        sends its last audio with or just after the stop, so the stop waits ``trailing``
        seconds for it."""
        state = self.session(key)
        if state.stream is None:
            return 'Not listening.', self.rows(state.live, delays=True)
        time.sleep(trailing)
        self._stop_worker(state, finish=True)
        report = state.stream.audio_report.note()
        state.stream = None
        if state.chunks:
            # Gradio's browser side drops the audio it records while the server has not
            # answered its previous chunk: the user is told how much went missing
            lost = state.chunks[-1][1] - state.audio_start - state.audio_seconds
            if lost > 1.0:
                report = ((report + ' ') if report else '') + (
                    f'About {lost:.1f} s of the {state.chunks[-1][1] - state.audio_start:.1f}'
                    ' s recorded did not reach the server (the browser drops audio while '
                    'the server is busy): utterances may be cut or merged.')
        msg = state.live_message if (state.live_message or '').startswith('**Problem') \
            else f'Stopped: {len(state.live)} utterances labelled.'
        return msg + (f' {report}' if report else ''), self.rows(state.live, delays=True)

    def _add_live(self, state: _Session, new: Sequence[dict]) -> None:
        """Record the new live predictions with their delay: now minus the moment the
        utterance's last sample was captured (its chunk's arrival, less the audio after
        it in that chunk; capture and upload taken as instant)."""
        now = time.time()
        for r in new:
            end = float(r.get('end') or 0.0)
            captured = next((arrival - (t_end - end) for t_end, arrival in list(state.chunks)
                             if t_end >= end), now)
            state.live.append(dict(r, delay=max(0.0, now - captured)))
        if new:
            last = state.live[-1]
            v = prediction_view(last)
            state.live_message = (f'{len(state.live)} utterances; the last: '
                                  f'"{last.get("text")}" -> {v["label"]} ({v["score"]:.2f}), '
                                  f'{last["delay"]:.2f} s after it ended.')

    def live_timeline(self, key: str) -> Optional[str]:
        """A new timeline PNG when the microphone table grew, else None."""
        state = self.session(key)
        live = list(state.live)
        if len(live) == state.live_drawn or not live:
            return None
        state.live_drawn = len(live)
        return self.timeline(live, state.folder, 'microphone')

    # ------------------------------------------------------------------ VEGA's view
    def vega_view(self, key: str, choice: Optional[str]) -> Tuple[str, Optional[str], list]:
        """The anchors' and branches' view of one utterance of the latest results:
        (message, figure PNG, rows of ``[branch, predicted class]``)."""
        state = self.session(key)
        records = list(state.results)
        if not records:
            raise DemoProblem('nothing labelled yet: label a transcript, a recording or the '
                              'microphone first')
        labels = self.choices(records)
        index = labels.index(choice) if choice in labels else len(records) - 1
        record = records[index]
        v = prediction_view(record)
        png = self.vega_figure(record, os.path.join(state.folder,
                                                    f'vega_{time.time_ns()}.png'))
        rows = [[k, c] for k, c in v['branch_predictions'].items()]
        if not v['anchor_similarity']:
            msg = (f'Utterance {index + 1}: {v["label"]} ({v["score"]:.2f}). This model has '
                   'no anchor branch (not a VEGA model): no similarities to show.')
        else:
            best = max(v['anchor_similarity'], key=v['anchor_similarity'].get)
            msg = (f'Utterance {index + 1}: {v["label"]} ({v["score"]:.2f}); closest anchor: '
                   f'{best} (cosine {v["anchor_similarity"][best]:.3f}).')
        return msg, png, rows

    def vega_figure(self, record: dict, path: str) -> str:
        """Bars of the utterance's cosine similarity to each class anchor, and each
        branch's prediction (a mark in its class's column)."""
        from vega_mm.analysis.figures import new_figure, save_figure
        from vega_mm.analysis.timeline import emotion_colors
        v = prediction_view(record)
        colors = emotion_colors(self.classes)
        branches = list(v['branch_predictions'])
        fig = new_figure((10.0, 3.6 + 0.25 * len(branches)))
        left, right = fig.subplots(1, 2, width_ratios=(1.1, 1.0))
        sims = [v['anchor_similarity'].get(c, 0.0) for c in self.classes]
        y = np.arange(len(self.classes))
        left.barh(y, sims, color=[colors[c] for c in self.classes],
                  edgecolor=['black' if c == v['label'] else 'none' for c in self.classes])
        left.set_yticks(y, labels=self.classes)
        left.invert_yaxis()
        left.axvline(0, color='0.4', lw=0.8)
        left.set_xlabel('cosine similarity to the class anchor')
        left.set_title('Anchor similarity' if v['anchor_similarity'] else
                       'Anchor similarity (none: not a VEGA model)', fontsize=11)
        for k, s in enumerate(sims):
            left.text(s, k, f' {s:.2f}', va='center', ha='left' if s >= 0 else 'right',
                      fontsize=8)
        rows = branches + ['final']
        predicted = [v['branch_predictions'][b] for b in branches] + [v['label']]
        for k, c in enumerate(predicted):
            x = self.classes.index(c) if c in self.classes else 0
            right.barh(k, 1.0, left=x - 0.5, height=0.7, color=colors.get(c, '0.5'))
            right.text(x, k, c, ha='center', va='center', fontsize=8,
                       bbox=dict(boxstyle='round,pad=0.1', fc='white', ec='none', alpha=0.7))
        right.set_yticks(range(len(rows)), labels=rows)
        right.set_ylim(len(rows) - 0.5, -0.5)
        right.set_xticks(range(len(self.classes)), labels=self.classes, rotation=30,
                         ha='right', fontsize=8)
        right.set_xlim(-0.5, len(self.classes) - 0.5)
        right.set_title('Prediction of each branch', fontsize=11)
        text = str(record.get('text') or '')
        fig.suptitle(f'{record.get("speaker")}: {text if len(text) < 90 else text[:87] + "..."}'
                     f'  ->  {v["label"]} ({v["score"]:.2f})', fontsize=11)
        return save_figure(fig, path, dpi=100)

    # ------------------------------------------------------------------ callbacks
    # Each takes the session key, then the page's inputs; :func:`_guarded` wraps it.
    def _on_transcript(self, key, pasted, upload):
        msg, rows, png = self.label_transcript(key, pasted, upload)
        return msg, _table(rows, TABLE_COLUMNS), png

    def _on_recording(self, key, upload, subs):
        msg, rows, png, files = self.label_recording(key, upload, subs)
        return msg, _table(rows, TABLE_COLUMNS), png, files

    def _on_live_start(self, key):
        return self.start_live(key), _table([], _LIVE_COLUMNS), None

    def _on_live_chunk(self, key, chunk):
        import gradio as gr

        # quick (the chunk is queued for the session's worker): the browser drops
        # audio while a chunk is unanswered. The answer brings the table when it grew.
        state = self.session(key)
        first = state.stream is None
        self.live_chunk(key, chunk)
        shown = len(state.live)
        grew = shown != state.live_shown
        state.live_shown = shown
        msg, rows = self.live_table(key)
        news = msg != state.live_message_shown
        state.live_message_shown = msg
        return (msg if news and msg else gr.skip(),
                _table(rows, _LIVE_COLUMNS) if grew else gr.skip(),
                gr.Timer(active=True) if first else gr.skip())

    def _on_live_stop(self, key):
        import gradio as gr
        msg, rows = self.stop_live(key)
        return msg, _table(rows, _LIVE_COLUMNS), self.live_timeline(key) or gr.skip()

    def _on_live_tick(self, key):
        import gradio as gr
        return self.live_timeline(key) or gr.skip()

    def _on_vega_open(self, key):
        import gradio as gr
        state = self.session(key)
        labels = self.choices(state.results)
        if not labels:
            raise DemoProblem('nothing labelled yet: label a transcript, a recording or '
                              'the microphone first')
        msg, png, rows = self.vega_view(key, labels[-1])
        return msg, gr.update(choices=labels, value=labels[-1]), png, _table(
            rows, ('branch', 'prediction'))

    def _on_vega_pick(self, key, choice):
        msg, png, rows = self.vega_view(key, choice)
        return msg, png, _table(rows, ('branch', 'prediction'))

    # ------------------------------------------------------------------ page
    def ready_message(self) -> str:
        """The page's first line: the model, its limits, and whether speech
        recognition is on."""
        ready = (f'Model ready: {len(self.classes)} classes ({", ".join(self.classes)}), '
                 f'modalities {", ".join(self.inferencer.modalities)}, '
                 f'{"causal" if self.inferencer.causal else "non-causal"}. Limits: uploads '
                 f'up to {self.limits.max_upload_mb:g} MB, recordings up to '
                 f'{self.limits.max_minutes:g} minutes.')
        if self.asr_problem:
            ready += f' Speech recognition is off ({self.asr_problem}).'
        return ready

    def build(self):
        """The Gradio page (``gradio.Blocks``); launch it with :func:`launch`."""
        import gradio as gr

        with gr.Blocks(title=self.title, delete_cache=(600, 3600)) as demo:
            gr.Markdown(f'# {html.escape(self.title)}\n{self.ready_message()}',
                        elem_id='ready')
            with gr.Tabs():
                page = {**_transcript_tab(gr), **_recording_tab(gr), **_microphone_tab(gr),
                        **_vega_tab(gr)}
            self._wire(gr, demo, page)
        return demo

    def _wire(self, gr, demo, c: Dict[str, Any]) -> None:
        """Connect the page's components ``c`` (the tabs' dictionaries) to the
        callbacks."""
        free = dict(concurrency_limit=None)  # a second upload is answered at once
        c['transcript_button'].click(
            _guarded(self._on_transcript, 3), [c['pasted'], c['transcript_file']],
            [c['transcript_status'], c['transcript_table'], c['transcript_timeline']], **free)
        c['recording_button'].click(
            _guarded(self._on_recording, 4), [c['recording_file'], c['subtitle_file']],
            [c['recording_status'], c['recording_table'], c['recording_timeline'],
             c['downloads']], **free)
        mic, timer = c['mic'], c['timer']
        live = [c['mic_status'], c['mic_table'], c['mic_timeline']]
        mic.start_recording(_guarded(self._on_live_start, 3), None, live).then(
            lambda: gr.Timer(active=True), None, timer)
        mic.stream(_guarded(self._on_live_chunk, 3), [mic], [c['mic_status'],
                                                             c['mic_table'], timer],
                   stream_every=0.5, time_limit=int(self.limits.max_minutes * 60) + 5,
                   show_progress='hidden', concurrency_limit=1,
                   concurrency_id='microphone-chunks')  # in order, and quick
        mic.stop_recording(lambda: gr.Timer(active=False), None, timer).then(
            _guarded(self._on_live_stop, 3), None, live)
        timer.tick(_guarded(self._on_live_tick, 1), None, c['mic_timeline'],
                   show_progress='hidden')
        vega = [c['vega_status'], c['vega_plot'], c['vega_table']]
        c['vega_tab'].select(_guarded(self._on_vega_open, 4), None,
                             [c['vega_status'], c['pick'], c['vega_plot'], c['vega_table']])
        c['pick'].input(_guarded(self._on_vega_pick, 3), [c['pick']], vega)

        def unload(request: gr.Request):
            self.end_session(getattr(request, 'session_hash', None) or 'default')
        demo.unload(unload)

    def launch(self, host: str = '127.0.0.1', port: Optional[int] = None, **kwargs):
        """Build and serve the page (``prevent_thread_lock=True`` returns at once);
        returns the Blocks."""
        demo = self.build()
        demo.queue(default_concurrency_limit=1)
        demo.launch(server_name=host, server_port=port,
                    max_file_size=f'{int(self.limits.max_upload_mb * 1024)}kb',
                    show_error=False, head=RAW_MICROPHONE_JS, **kwargs)
        return demo


def _seconds(value: Any) -> Any:
    return '' if value is None else round(float(value), 2)


def _table(rows, columns):
    import pandas as pd
    return pd.DataFrame(rows, columns=list(columns))


def _guarded(fn, n_out: int, status_index: int = 0):
    """``fn(key, *inputs)`` as a Gradio callback whose problems become the status
    message (the outputs keep their value); nothing a user sends can raise through
    Gradio."""
    import gradio as gr

    def run(*args):
        *args, request = args
        key = getattr(request, 'session_hash', None) or 'default'
        try:
            return fn(key, *args)
        except DemoProblem as exc:
            msg = f'**Problem:** {exc}'
        except (ValueError, RecipeError, MediaError, FileNotFoundError,
                OSError) as exc:  # the inferencer's messages name file and key
            msg = f'**Problem:** {exc}'
        except Exception as exc:  # noqa: BLE001 - the server must keep serving
            traceback.print_exc()
            msg = f'**Problem:** unexpected {type(exc).__name__}: {exc}'
        out = [gr.skip()] * n_out
        out[status_index] = msg
        return tuple(out) if n_out > 1 else out[0]
    # Gradio passes inputs by the signature: the callback's own inputs (after the
    # session key) and the request
    params = list(inspect.signature(fn).parameters.values())[1:]
    run.__signature__ = inspect.Signature(params + [inspect.Parameter(
        'request', inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=gr.Request)])
    run.__annotations__ = {'request': gr.Request}
    return run


def _results(gr, name: str) -> Dict[str, Any]:
    """A tab's button, status, utterance table and timeline: ``name`` is ``transcript``
    or ``recording`` (the element ids ``label-{name}``, ``{name}-status``, ...)."""
    return {
        f'{name}_button': gr.Button(f'Label the {name}', variant='primary',
                                    elem_id=f'label-{name}'),
        f'{name}_status': gr.Markdown(elem_id=f'{name}-status'),
        f'{name}_table': gr.Dataframe(_table([], TABLE_COLUMNS), label='Utterances',
                                      elem_id=f'{name}-table', interactive=False, wrap=True,
                                      column_widths=_WIDTHS),
        f'{name}_timeline': gr.Image(label='Emotion timeline', type='filepath',
                                     elem_id=f'{name}-timeline')}


def _transcript_tab(gr) -> Dict[str, Any]:
    with gr.Tab('Transcript', id='transcript'):
        pasted = gr.Textbox(label='Paste "Speaker: text" lines', lines=6, elem_id='paste')
        tfile = gr.File(label='... or upload JSONL / CSV / SRT / VTT',
                        elem_id='transcript-file')
        return dict(pasted=pasted, transcript_file=tfile, **_results(gr, 'transcript'))


def _recording_tab(gr) -> Dict[str, Any]:
    with gr.Tab('Recording', id='recording'):
        with gr.Row():
            rfile = gr.File(label='Recording (WAV / MP3 / MP4)', elem_id='recording-file')
            sfile = gr.File(label='Subtitles (optional: SRT / VTT)', elem_id='subtitle-file')
        out = dict(recording_file=rfile, subtitle_file=sfile, **_results(gr, 'recording'))
        out['downloads'] = gr.File(label='Labelled SRT and JSONL', file_count='multiple',
                                   elem_id='recording-downloads', interactive=False)
        return out


def _microphone_tab(gr) -> Dict[str, Any]:
    with gr.Tab('Microphone', id='microphone'):
        return dict(
            mic=gr.Audio(sources=['microphone'], streaming=True, type='numpy',
                         label='Speak; pause to close an utterance', elem_id='microphone'),
            mic_status=gr.Markdown(elem_id='microphone-status'),
            mic_table=gr.Dataframe(_table([], _LIVE_COLUMNS), label='Utterances',
                                   elem_id='microphone-table', interactive=False, wrap=True,
                                   column_widths=_LIVE_WIDTHS),
            mic_timeline=gr.Image(label='Emotion timeline', type='filepath',
                                  elem_id='microphone-timeline'),
            timer=gr.Timer(1.5, active=False))  # the timeline (slower to draw)


def _vega_tab(gr) -> Dict[str, Any]:
    with gr.Tab("VEGA's view", id='vega') as tab:
        return dict(
            vega_tab=tab, vega_status=gr.Markdown(elem_id='vega-status'),
            pick=gr.Dropdown(label='Utterance', choices=[], elem_id='vega-pick'),
            vega_plot=gr.Image(label='Anchors and branches', type='filepath',
                               elem_id='vega-figure'),
            vega_table=gr.Dataframe(_table([], ('branch', 'prediction')),
                                    label='Branch predictions', elem_id='vega-table',
                                    interactive=False))
