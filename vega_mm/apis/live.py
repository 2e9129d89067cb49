"""The live mode of ``tools/infer.py --live``: label each utterance as it arrives.

Utterances come from standard input (``speaker: text`` lines, each decoded on its own) or
from a recording replayed as it plays; each prediction record is written at once as a
flushed JSON line, and a readable line goes to stderr. SIGINT and SIGTERM end the loop
cleanly: a line is written whole or not at all, and the exit code is 128 + the signal
number (0 at the end of the input).
"""
import contextlib
import json
import os
import signal
import sys
from typing import IO, Iterator, Optional, Union

__all__ = ['Stopped', 'StopSignals', 'stdin_lines', 'label_line', 'describe_record',
           'run_live']


class Stopped(Exception):
    """SIGINT or SIGTERM arrived."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class StopSignals:
    """SIGINT and SIGTERM raise :class:`Stopped`, except inside :meth:`deferred`
    (writing one prediction), where they take effect once it is done: a line is
    written whole or not at all."""

    def __init__(self) -> None:
        self._deferring = False
        self._pending: Optional[int] = None

    def _handle(self, signum: int, frame) -> None:
        if self._deferring:
            self._pending = signum
        else:
            raise Stopped(signum)

    @contextlib.contextmanager
    def installed(self) -> Iterator['StopSignals']:
        old = {s: signal.signal(s, self._handle) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for s, handler in old.items():
                signal.signal(s, handler)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False
        if self._pending is not None:
            raise Stopped(self._pending)


def stdin_lines(stream: Optional[IO] = None) -> Iterator[Union[str, UnicodeDecodeError]]:
    """Lines of ``stream`` (default stdin), each decoded on its own (UTF-8): a line that
    does not decode is given as its error, and the lines after it are read as usual."""
    stream = sys.stdin if stream is None else stream
    raw = getattr(stream, 'buffer', None)
    if raw is None:  # already text (an embedding program's stream)
        yield from stream
        return
    for line in iter(raw.readline, b''):
        try:
            yield line.decode('utf-8')
        except UnicodeDecodeError as exc:
            yield exc


def label_line(session, number: int, line: Union[str, UnicodeDecodeError]) -> Optional[dict]:
    """The prediction record of one ``speaker: text`` line, or None (reported on stderr)
    for a line that cannot be labelled; the session is then unchanged."""
    if isinstance(line, UnicodeDecodeError):
        print(f'line {number}: skipped: not UTF-8 text ({line.reason} at byte '
              f'{line.start})', file=sys.stderr, flush=True)
        return None
    speaker, sep, text = line.rstrip('\r\n').partition(':')
    if not sep:
        print(f'line {number}: no "speaker:" before the text: speaker \'unknown\'',
              file=sys.stderr, flush=True)
    try:
        return session.add(speaker=speaker.strip() if sep else 'unknown',
                           text=text if sep else speaker)
    except (ValueError, TypeError) as exc:  # the row checks, the recipe, max_len
        print(f'line {number}: skipped: {exc}', file=sys.stderr, flush=True)
        return None


def _stdin_results(session) -> Iterator[dict]:
    for number, line in enumerate(stdin_lines(), 1):
        r = label_line(session, number, line)
        if r is not None:
            yield r


def _recording_results(session, path: str, realtime: bool) -> Iterator[dict]:
    """A recording replayed as a live source (0.5 s chunks, in real time unless
    ``realtime`` is False): the record of every utterance when it closes."""
    from vega_mm.speech.segments import replay
    for chunk, _ in replay(path, 0.5, realtime=realtime):
        yield from session.add_audio(chunk)
    yield from session.finish_audio()
    note = session.audio_report.note()
    if note:
        print(f'{path}: {note}', file=sys.stderr, flush=True)


def describe_record(r: dict) -> str:
    """A prediction record as one readable line:
    ``[3]   1.20-   2.50s Ross: We were on a break!  ->  anger (0.82)``."""
    when = f"{r['start']:7.2f}-{r['end']:7.2f}s " if r.get('start') is not None else ''
    return (f"[{r['utterance_id']}] {when}{r['speaker']}: {r['text']}  ->  "
            f"{r['pred_class']} ({r['pred_score']:.2f})")


def run_live(inferencer, out: Optional[str], stdout: IO[str],
             recording: Optional[str] = None, realtime: bool = True,
             asr: Optional[dict] = None) -> int:
    """Label stdin line by line (or a recording as it plays), writing each record at
    once to ``out`` (a ``.jsonl`` file) or ``stdout``.

    Returns:
        The exit code: 0 at the end of the input, 128 + the signal number when stopped.

    Raises:
        ValueError: a recording in which no utterance was labelled.
    """
    if recording is not None:
        session = inferencer.stream(os.path.splitext(os.path.basename(recording))[0],
                                    asr_options=asr)
        results = _recording_results(session, recording, realtime)
    else:
        results = _stdin_results(inferencer.stream())
    written, code = 0, 0
    sink = open(out, 'w', encoding='utf-8') if out else stdout
    signals = StopSignals()
    try:
        with signals.installed():
            for r in results:
                with signals.deferred():
                    sink.write(json.dumps(r, ensure_ascii=False) + '\n')
                    sink.flush()
                    written += 1
                    print(describe_record(r), file=sys.stderr, flush=True)
    except Stopped as stop:
        code = 128 + stop.signum
        print(f'stopped by {stop}', file=sys.stderr)
    finally:
        if sink is not stdout:
            sink.close()
    print(f'labelled {written} utterances -> {out or "stdout"}', file=sys.stderr, flush=True)
    if recording is not None and not written and not code:
        raise ValueError(f'{recording}: no utterance was labelled (no speech with words found)')
    return code
