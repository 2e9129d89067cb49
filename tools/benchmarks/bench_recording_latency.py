"""Latency of the live mode from audio: from the end of an utterance to its label.

    python tools/benchmarks/bench_recording_latency.py CONFIG CHECKPOINT \\
        [--audio talk.wav] [--threads 1 2] [--asr-model base] [--chunk-seconds 0.5]

CHECKPOINT is a text-only model with a feature recipe (e.g.
``configs/vega/vega_meld_text_causal.py`` trained on MiniLM features).  Without
``--audio`` the recording is a dialogue spoken by espeak-ng (``espeak-ng`` on PATH),
six sentences by two voices with 0.8-1.5 s pauses (:data:`DIALOGUE`).

The recording is replayed as fast as the machine goes, chunk after chunk
(``--chunk-seconds``, what ``--live`` hands over), through
``StreamSession.add_audio``, and the live clock is simulated: chunk ``k`` arrives at
``(k + 1) * chunk_seconds``; it is processed from ``max(arrival, end of the previous
chunk's processing)`` for its measured processing time.  An utterance's delay is the
time from the arrival of the chunk that closed it (the one holding its last speech plus
``min_silence_s`` of silence, what the voice-activity detection needs to call it
closed) to the end of that chunk's processing: queueing behind earlier chunks is
counted, the ``min_silence_s`` wait itself is not (it is a setting, reported apart).
Replaying in real time would give the same numbers and take the recording's length.

Where the time goes, per utterance: the voice-activity detection (all chunks), Whisper
(``WhisperTranscriber.transcribe``), the text encoder and the conversation model
(``session.add``).  Not a test: the numbers depend on the machine and its load.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from contextlib import contextmanager
from typing import Dict, List

import numpy as np
import torch

from vega_mm.apis import ConversationInferencer
from vega_mm.speech.asr import WhisperTranscriber
from vega_mm.speech.segments import SpeechSegmenter, read_audio_blocks

#: The synthesised dialogue: (espeak-ng voice, words), with the pause before each.
DIALOGUE = (
    ('en-us', 'Hey, did you hear? I got the job at the museum!', 0.8),
    ('en-gb+m3', 'No way. That is amazing, congratulations!', 1.2),
    ('en-us', 'I know, I still cannot believe it. I start on Monday.', 1.0),
    ('en-gb+m3', 'Wait, Monday? But we were going to move the furniture on Monday.', 1.5),
    ('en-us', 'Oh no. I completely forgot about that. I am so sorry.', 0.9),
    ('en-gb+m3', 'It is fine. I guess I will just do it alone, again.', 1.1),
)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--audio', help='a recording (default: the espeak-ng dialogue)')
    p.add_argument('--threads', type=int, nargs='+', default=[1, 2],
                   help='torch and Whisper CPU threads, one run each')
    p.add_argument('--asr-model', default='base')
    p.add_argument('--beam-size', type=int, default=5)
    p.add_argument('--language', default='en')
    p.add_argument('--speaker', default='speaker',
                   help="the speaker name of every utterance (one the model knows, or any "
                        "name for a model trained with an 'other' speaker)")
    p.add_argument('--chunk-seconds', type=float, default=0.5)
    p.add_argument('--min-silence', type=float, default=0.5, help='VAD min_silence_s')
    return p.parse_args()


def speak_dialogue(out: str) -> str:
    """Write :data:`DIALOGUE` spoken by espeak-ng to ``out`` (16 kHz wav)."""
    import soundfile as sf
    exe = shutil.which('espeak-ng')
    if exe is None:
        raise SystemExit('error: espeak-ng is not on PATH; install it or give --audio')
    pieces = []
    with tempfile.TemporaryDirectory() as tmp:
        for i, (voice, words, pause) in enumerate(DIALOGUE):
            wav = os.path.join(tmp, f'{i}.wav')
            subprocess.run([exe, '-v', voice, '-w', wav, words], check=True,
                           capture_output=True)
            pieces += [np.zeros(int(pause * 16000), np.float32),
                       np.concatenate(list(read_audio_blocks(wav)))]
    pieces.append(np.zeros(16000, np.float32))
    sf.write(out, np.concatenate(pieces), 16000, subtype='PCM_16')
    return out


class Timers:
    """Seconds spent in wrapped calls, by name, since the last :meth:`take`."""

    def __init__(self) -> None:
        self.spent: Dict[str, float] = {}

    @contextmanager
    def wrap(self, obj, method: str, name: str):
        original = getattr(obj, method)

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.spent[name] = self.spent.get(name, 0.0) + time.perf_counter() - t0
        setattr(obj, method, timed)
        try:
            yield
        finally:
            setattr(obj, method, original)

    def take(self) -> Dict[str, float]:
        out, self.spent = self.spent, {}
        return out


def live_delays(costs: List[float], closed: List[int], chunk_seconds: float) -> List[float]:
    """The delays on the simulated live clock: chunk ``k`` arrives at
    ``(k + 1) * chunk_seconds`` (the last entry, the end of the input, with the last
    chunk), is processed from ``max(arrival, end of the previous chunk's processing)``
    for ``costs[k]`` seconds, and each of the ``closed[k]`` utterances it closed waits
    from its arrival to the end of that processing."""
    delays, busy_until = [], 0.0
    for k, (cost, n) in enumerate(zip(costs, closed)):
        arrival = min(k + 1, len(costs) - 1) * chunk_seconds
        busy_until = max(arrival, busy_until) + cost
        delays += [busy_until - arrival] * n
    return delays


def run(inferencer: ConversationInferencer, transcriber, chunks: List[np.ndarray],
        args: argparse.Namespace) -> dict:
    """Replay ``chunks`` on the simulated live clock; delays and where the time went."""
    session = inferencer.stream().listen(
        transcriber, SpeechSegmenter(min_silence_s=args.min_silence), speaker=args.speaker)
    timers = Timers()
    stages = dict(vad=0.0, asr=0.0, text_encoder=0.0, model=0.0)
    costs, closed, texts = [], [], []
    with timers.wrap(session.segmenter, 'feed', 'vad'), \
            timers.wrap(session.segmenter, 'flush', 'vad'), \
            timers.wrap(transcriber, 'transcribe', 'asr'), \
            timers.wrap(session, '_features', 'text_encoder'), \
            timers.wrap(inferencer, 'forward', 'model'):
        for chunk in [*chunks, None]:  # None: the end of the input
            t0 = time.perf_counter()
            results = session.add_audio(chunk) if chunk is not None else \
                session.finish_audio()
            costs.append(time.perf_counter() - t0)
            closed.append(len(results))
            spent = timers.take()
            for name in stages:
                stages[name] += spent.get(name, 0.0)
            for r in results:
                texts.append(f"{r['start']:6.2f}-{r['end']:6.2f} {r['pred_class']:>8}: "
                             f"{r['text']}")
    delays = live_delays(costs, closed, args.chunk_seconds)
    n = max(len(delays), 1)
    return dict(delays=delays, texts=texts, per_utterance={k: v / n for k, v in stages.items()},
                utterances=len(delays))


def main() -> None:
    args = parse_args()
    inferencer = ConversationInferencer(args.config, args.checkpoint)
    with tempfile.TemporaryDirectory() as tmp:
        audio = args.audio or speak_dialogue(os.path.join(tmp, 'dialogue.wav'))
        chunks = list(read_audio_blocks(audio, block_seconds=args.chunk_seconds))
    seconds = sum(len(c) for c in chunks) / 16000
    print(f'{args.audio or "espeak-ng dialogue"}: {seconds:.1f} s of audio, chunks of '
          f'{args.chunk_seconds} s; ASR {args.asr_model} (int8, beam {args.beam_size}); '
          f'VAD min_silence {args.min_silence} s (waited before each delay below)')
    rows = []
    for threads in args.threads:
        torch.set_num_threads(threads)
        transcriber = WhisperTranscriber(args.asr_model, cpu_threads=threads,
                                         language=args.language, beam_size=args.beam_size)
        run(inferencer, transcriber, chunks[:8], args)  # warm-up
        out = run(inferencer, transcriber, chunks, args)
        if threads == args.threads[0]:
            print('\n'.join(out['texts']))
        d = np.asarray(out['delays']) * 1e3
        per = {k: v * 1e3 for k, v in out['per_utterance'].items()}
        rows.append(f"| {threads} | {out['utterances']} | {statistics.median(d):.0f} | "
                    f"{np.percentile(d, 95):.0f} | {per['vad']:.0f} | {per['asr']:.0f} | "
                    f"{per['text_encoder']:.0f} | {per['model']:.0f} |")
    print('\ndelay = label ready - arrival of the chunk that closed the utterance (ms); '
          'stages: ms per utterance (VAD: all chunks of the recording / utterances; model: '
          'the conversation model\'s forward over the conversation so far)')
    print('| threads | utterances | delay median | delay p95 | VAD | ASR | text encoder | '
          'model |')
    print('|---:|---:|---:|---:|---:|---:|---:|---:|')
    print('\n'.join(rows))


if __name__ == '__main__':
    main()
