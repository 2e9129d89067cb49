"""Latency of the demo page's microphone: from the end of an utterance to its label in the
page.

    python tools/benchmarks/bench_demo_latency.py CONFIG CHECKPOINT \\
        [--audio talk.wav] [--threads 1] [--language en]

Starts ``tools/demo_app.py`` on CONFIG/CHECKPOINT (a text-only model with a feature
recipe; a causal one labels live exactly as offline), opens the page's Microphone tab in
headless Chromium (Debian's ``chromium`` and ``chromium-driver``, Selenium) whose fake
capture device plays the recording, records it to the end and stops.

The recording (default: six turns spoken by espeak-ng, two voices, 0.8-1.5 s pauses,
after a 3 s lead of silence) starts at the Record click. An utterance ends, in the
browser's clock, at ``click + end`` (``end``: its end as the page reports it, seconds
since the recording began); its delay is the moment its row appears in the page's table
(a MutationObserver in the page) minus that. The time between the click and the first
captured sample counts as delay, so the numbers are an upper bound. The delay includes
the voice-activity detection's wait for ``min_silence_s`` (0.5 s) of silence after the
speech, Gradio's 0.5 s chunks, Whisper, the text encoder, the model and the page's
answer to the next chunk that brings the table. The page's own ``delay (s)`` column
(server side, from the arrival of the utterance's last chunk) is printed beside it, and
the page's closing message, which says how much audio the browser dropped: audio that
never reached the server shifts the page's times earlier, so with drops the page delay
is over-estimated (the server-side one is not).

Not a test: the numbers depend on the machine and its load.
"""
import argparse
import os
import shutil
import socket
import subprocess
import tempfile
import time

import numpy as np

from vega_mm.apis.demo_browser import (CHROMEDRIVER, CHROMIUM, headless_chromium, open_tab,
                                       start_demo_page, table_rows, wait_text)
from vega_mm.benchmarking import latency_summary

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
#: The spoken dialogue: (espeak-ng voice, words, pause before it in seconds).
DIALOGUE = (
    ('en-us', 'Hey, did you hear? I got the job at the museum!', 3.0),
    ('en-gb+m3', 'No way. That is amazing, congratulations!', 1.2),
    ('en-us', 'I know, I still cannot believe it. I start on Monday.', 1.0),
    ('en-gb+m3', 'Wait, Monday? But we were going to move the furniture on Monday.', 1.5),
    ('en-us', 'Oh no. I completely forgot about that. I am so sorry.', 0.9),
    ('en-gb+m3', 'It is fine. I guess I will just do it alone, again.', 1.1),
)
TAIL = 1.5  # silence after the last turn
SR = 16000

#: Records, in the page, when each row of the microphone table first appears.
OBSERVE_JS = """
window.__rows = [];
const seen = new Set();
const look = () => document.querySelectorAll('#microphone-table [role=gridcell]')
  .forEach(c => { const r = +c.dataset.row;
    if (!seen.has(r) && c.dataset.col === '0' && c.textContent.trim()) {
      seen.add(r); window.__rows.push([r, Date.now()]); } });
new MutationObserver(look).observe(document.body,
  {subtree: true, childList: true, characterData: true});
"""


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--audio', help='a 16 kHz WAV to play, starting with >= 2 s of silence '
                   '(default: the espeak-ng dialogue)')
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--language', default='en')
    p.add_argument('--asr-model', default='base')
    p.add_argument('--chromium', default=CHROMIUM)
    p.add_argument('--chromedriver', default=CHROMEDRIVER)
    return p.parse_args()


def speak_dialogue(out: str) -> float:
    """Write :data:`DIALOGUE` to ``out`` (16 kHz WAV); returns its length in seconds."""
    import soundfile as sf

    from vega_mm.speech.segments import read_audio_blocks
    exe = shutil.which('espeak-ng')
    if exe is None:
        raise SystemExit('error: espeak-ng is not installed (apt-get install espeak-ng); '
                         'or give --audio')
    pieces = []
    for k, (voice, text, pause) in enumerate(DIALOGUE):
        clip = os.path.join(os.path.dirname(out), f'turn{k}.wav')
        subprocess.run([exe, '-v', voice, '-w', clip, text], check=True, capture_output=True)
        x = np.concatenate(list(read_audio_blocks(clip)))
        loud = np.flatnonzero(np.abs(x) > 0.02)
        pieces += [np.zeros(int(pause * SR), np.float32), x[loud[0]:loud[-1] + 1]]
    pieces.append(np.zeros(int(TAIL * SR), np.float32))
    signal = np.concatenate(pieces)
    sf.write(out, signal, SR, subtype='PCM_16')
    return len(signal) / SR


def record(args, wav: str, duration: float, work: str):
    """Play ``wav`` into the page's microphone: (the page's rows, when each row appeared
    and when Record was clicked (ms, the browser's clock), the page's closing message)."""
    from selenium.webdriver.common.by import By
    env = dict(os.environ, PYTHONPATH=os.environ.get('PYTHONPATH', REPO),
               GRADIO_ANALYTICS_ENABLED='False')
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    proc, address = start_demo_page(
        os.path.join(REPO, 'tools', 'demo_app.py'),
        [args.config, args.checkpoint, '--port', str(port), '--threads', str(args.threads),
         '--language', args.language, '--asr-model', args.asr_model],
        os.path.join(work, 'page.log'), env=env)
    try:
        driver = headless_chromium(('--use-fake-device-for-media-stream',
                                    '--use-fake-ui-for-media-stream',
                                    f'--use-file-for-fake-audio-capture={wav}'),
                                   args.chromium, args.chromedriver)
        try:
            driver.get(address)
            wait_text(driver, 'ready', 'Model ready', 120)
            open_tab(driver, 'Microphone')
            time.sleep(1.0)
            driver.execute_script(OBSERVE_JS)
            clicked = driver.execute_script(
                "document.querySelector('#microphone button.record-button').click();"
                'return Date.now();')
            # the fake device loops the file from when the page first opened it: stop
            # after the last turn, within the next loop's lead of silence
            time.sleep(duration - 0.6)
            driver.find_element(By.CSS_SELECTOR, '#microphone button.stop-button').click()
            status = wait_text(driver, 'microphone-status', r'Stopped: \d+ utterances', 300)
            rows = table_rows(driver, 'microphone-table')
            appeared = dict(driver.execute_script('return window.__rows;'))
        finally:
            driver.quit()
    finally:
        proc.terminate()
        proc.wait(30)
    return rows, appeared, clicked, status


def main() -> None:
    args = parse_args()
    for exe in (args.chromium, args.chromedriver):
        if not os.path.exists(exe):
            raise SystemExit(f'error: {exe} is missing (apt-get install chromium '
                             'chromium-driver)')
    work = tempfile.mkdtemp(prefix='bench_demo_')
    try:
        if args.audio:
            import soundfile as sf
            wav, duration = args.audio, sf.info(args.audio).duration
        else:
            wav = os.path.join(work, 'dialogue.wav')
            duration = speak_dialogue(wav)
        rows, appeared, clicked, status = record(args, wav, duration, work)
    except (RuntimeError, TimeoutError, ValueError) as exc:  # the page's own words
        raise SystemExit(f'error: {exc}') from exc
    finally:
        shutil.rmtree(work, ignore_errors=True)
    delays, server = [], []
    print(f'{"#":>2} {"end (s)":>8} {"page delay (s)":>15} {"server delay (s)":>17}  text')
    for k, row in enumerate(rows):
        end = float(row[2])
        shown = appeared.get(k)
        delay = None if shown is None else (shown - clicked) / 1000.0 - end
        if delay is not None:
            delays.append(delay)
        server.append(float(row[7]))
        print(f'{k + 1:>2} {end:8.2f} {"-" if delay is None else f"{delay:.2f}":>15} '
              f'{float(row[7]):17.2f}  {row[4]}')
    print(f'the page: {status}')
    if len(delays) < 2:
        raise SystemExit(f'error: only {len(delays)} utterances were labelled live')
    page, srv = latency_summary(delays), latency_summary(server)
    print(f'{len(delays)} utterances (of {len(DIALOGUE) if not args.audio else "?"} spoken); '
          f'delay from the end of an utterance to its row in the page: median '
          f'{page["median"]:.2f} s, p95 {page["p95"]:.2f} s, max {page["max"]:.2f} s '
          f'(server side: median {srv["median"]:.2f} s, p95 {srv["p95"]:.2f} s); threads '
          f'{args.threads}, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}')


if __name__ == '__main__':
    main()
