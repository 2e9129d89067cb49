"""Latency of the live mode and throughput of batch inference, from raw text.

    python tools/benchmarks/bench_live_inference.py CONFIG CHECKPOINT \\
        [--lengths 10 50 200] [--repeats 3] [--window 5] [--threads 2]

CHECKPOINT is a text-only model trained on features from ``tools/extract_features.py``
(e.g. ``configs/vega/vega_meld_text_causal.py`` on MiniLM features), so its recipe
names the text encoder.  The utterances are the real ones of a MELD table
(``--table``, default ``../shared/data/meld/dev_sent_emo.csv``), in order.

1. ``session.add`` latency: ``--repeats`` live sessions each get the longest length's
   number of utterances; for each conversation length L the adds that bring the
   conversation to L-window+1 .. L utterances are timed (text encoder, backbone over
   the conversation so far, heads); median and 95th percentile are printed.
2. Batch throughput: ``inferencer(dialogues)`` on the table's first ``--batch-utterances``
   utterances (whole dialogues), encoder included: utterances per second.

Not a test: the numbers depend on the machine and on what else runs on it.
"""
import argparse
import os.path as osp
import statistics
import time
from typing import Dict, List

import numpy as np
import torch

from vega_mm.apis import ConversationInferencer
from vega_mm.conversations import group_dialogues, read_conversation_table

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--table', default=osp.join(ROOT, '..', 'shared', 'data', 'meld',
                                               'dev_sent_emo.csv'))
    p.add_argument('--lengths', type=int, nargs='+', default=[10, 50, 200])
    p.add_argument('--repeats', type=int, default=3, help='live sessions')
    p.add_argument('--window', type=int, default=5,
                   help='adds recorded per session and length (up to that length)')
    p.add_argument('--batch-utterances', type=int, default=500)
    p.add_argument('--batch-size', type=int, default=16, help='dialogues per batch')
    p.add_argument('--threads', type=int, default=2)
    return p.parse_args()


def add_latencies(inferencer: ConversationInferencer, utterances: List[dict],
                  lengths: List[int], repeats: int, window: int) -> Dict[int, List[float]]:
    """Seconds taken by ``add`` when the conversation reaches each length.

    ``repeats`` live sessions each get ``max(lengths)`` utterances of the table (each
    session starts at another utterance); for a length L the adds that make the
    conversation L-window+1 .. L long are recorded.
    """
    times: Dict[int, List[float]] = {n: [] for n in lengths}
    for r in range(repeats):
        session = inferencer.stream()
        start = (r * 37) % len(utterances)
        for i in range(1, max(lengths) + 1):
            u = utterances[(start + i) % len(utterances)]
            t0 = time.perf_counter()
            session.add(**u)
            seconds = time.perf_counter() - t0
            for n in lengths:
                if n - window < i <= n:
                    times[n].append(seconds)
    return times


def main() -> None:
    args = parse_args()
    torch.set_num_threads(args.threads)
    inferencer = ConversationInferencer(args.config, args.checkpoint)
    if inferencer.model.backbone.causal is False:
        print('note: a non-causal model (streamed answers use the conversation so far)')
    dialogues = group_dialogues(read_conversation_table(args.table)[0])
    utterances = [dict(speaker=u.speaker, text=u.text) for d in dialogues
                  for u in d.utterances]
    inferencer.stream().add(**utterances[0])  # warm-up: first calls allocate
    print(f'{args.checkpoint}: text encoder {inferencer.recipe["extractors"]["text"]["model"]}'
          f', {torch.get_num_threads()} threads, {args.repeats} sessions x {args.window} adds per '
          'length')
    print('| conversation length | add median (ms) | add p95 (ms) |')
    print('|---:|---:|---:|')
    times = add_latencies(inferencer, utterances, args.lengths, args.repeats, args.window)
    for length in args.lengths:
        t = np.asarray(times[length]) * 1e3
        print(f'| {length} | {statistics.median(t):.1f} | {np.percentile(t, 95):.1f} |',
              flush=True)
    batch, n = [], 0
    for d in dialogues:
        if n >= args.batch_utterances:
            break
        batch.append(d)
        n += len(d)
    t0 = time.perf_counter()
    results = inferencer(batch, batch_size=args.batch_size)
    seconds = time.perf_counter() - t0
    print(f'batch inference from raw text: {len(results)} utterances in {len(batch)} '
          f'dialogues, {seconds:.1f} s, {len(results) / seconds:.1f} utterances/s')


if __name__ == '__main__':
    main()
