"""Extraction speed of the text encoders: utterances per second of
``TextFeatureExtractor.extract`` (tokenise, encode, pool, normalise) for each model,
alone and with the dialogue's past (``--contexts 0 3``).

Texts come from a conversation table (``--table``, e.g. MELD's ``train_sent_emo.csv``)
or, without one, from generated sentences of MELD-like length.  Models are names
``TextFeatureExtractor`` takes (``minilm``, ``mpnet``, a hub name or a folder); one that
cannot be loaded is reported and skipped.  Not a test; numbers depend on the machine
and its load (``--clock cpu`` counts this thread's CPU time, steadier on a shared
machine with ``--threads 1``)::

    python tools/benchmarks/bench_text_encoders.py --models minilm mpnet \\
        [--table train_sent_emo.csv] [--utterances 512] [--threads 1] [--clock cpu]
"""
import argparse
import time
from typing import List, Optional

import numpy as np
import torch

_WORDS = ('oh', 'my', 'god', 'you', 'know', 'what', 'i', 'mean', 'no', 'yes', 'really',
          'okay', 'so', 'the', 'thing', 'is', 'that', 'we', 'were', 'on', 'a', 'break')


def utterances(table: Optional[str], n: int) -> list:
    """``n`` utterances (in dialogues of 10) from the table, or generated ones."""
    from vega_mm.conversations import Utterance, load_tables, TableSpec
    if table:
        dialogues = load_tables([TableSpec(table, 'train')], log=lambda s: None).dialogues
        utts = [u for d in dialogues for u in d.utterances][:n]
        if len(utts) < n:
            raise SystemExit(f'{table} holds {len(utts)} utterances, fewer than {n}')
        return utts
    rng = np.random.default_rng(0)
    return [Utterance(f'd{i // 10}', str(i % 10),
                      ' '.join(rng.choice(_WORDS, size=int(rng.integers(3, 16)))),
                      ('Ross', 'Rachel')[i % 2], None, source='generated')
            for i in range(n)]


def measure(model: str, utts: list, context: int, batch_size: int, clock) -> dict:
    from vega_mm.features import TextFeatureExtractor
    ext = TextFeatureExtractor(model, context=context, batch_size=batch_size, device='cpu')
    ext.extract(utts[:batch_size])  # warm-up
    if context:  # extract() takes one dialogue at a time, as the extraction calls it
        groups, current = [], None
        for u in utts:
            if u.dialogue_id != current:
                groups.append([])
                current = u.dialogue_id
            groups[-1].append(u)
    else:
        groups = [utts]
    start = clock()
    for group in groups:
        ext.extract(group)
    seconds = clock() - start
    return dict(dim=ext.dim, per_second=len(utts) / seconds, seconds=seconds)


def main(argv: Optional[List[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    p.add_argument('--models', nargs='+', default=['minilm', 'mpnet'])
    p.add_argument('--contexts', nargs='+', type=int, default=[0, 3])
    p.add_argument('--table', help='a conversation table to take texts from')
    p.add_argument('--utterances', type=int, default=512)
    p.add_argument('--batch-size', type=int, default=64)
    p.add_argument('--threads', type=int, default=1)
    p.add_argument('--clock', choices=['wall', 'cpu'], default='wall')
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    clock = time.thread_time if args.clock == 'cpu' else time.perf_counter
    utts = utterances(args.table, args.utterances)
    rows = ['| model | context | dim | utterances/s |', '|---|---:|---:|---:|']
    for model in args.models:
        for context in args.contexts:
            try:
                r = measure(model, utts, context, args.batch_size, clock)
            except (OSError, RuntimeError) as exc:
                print(f'{model}: skipped ({exc})')
                break
            rows.append(f'| {model} | {context} | {r["dim"]} | {r["per_second"]:.1f} |')
            print(rows[-1], flush=True)
    print(f'\n{len(utts)} utterances ({args.table or "generated"}), batch {args.batch_size}, '
          f'{args.threads} thread(s), {args.clock} clock\n')
    print('\n'.join(rows))
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
