"""Training and inference speed of a vega_mm config, in utterances per second.

Runs the model's train step (forward, backward, AdamW update) and predict step on
batches from the config's training set, or on random IEMOCAP-shaped dialogues with
``--random``, and prints the numbers.  Not a test: numbers depend on the machine.

    python tools/benchmarks/bench_training_speed.py configs/vega/vega_synthetic.py
    python tools/benchmarks/bench_training_speed.py configs/vega/vega_iemocap.py --random
"""
import argparse
import os.path as osp
import time

import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.optim import OptimWrapper
from mmengine.registry import init_default_scope

import vega_mm  # noqa: F401
from vega_mm.registry import DATASETS, MODELS
from vega_mm.structures import ConversationDataSample
from vega_mm.utils import apply_modalities


def random_batches(cfg, num_batches: int, batch_size: int, length: int):
    model = cfg.model
    dims = model.backbone.input_dims
    modalities = model.get('modalities') or tuple(dims)
    dims = {m: dims[m] for m in modalities}
    num_classes = len(model.classes) if model.get('classes') else model.num_classes
    speakers = model.backbone.num_speakers
    gen = torch.Generator().manual_seed(0)
    for _ in range(num_batches):
        inputs, samples = [], []
        for i in range(batch_size):
            inputs.append({m: torch.randn(length, d, generator=gen) for m, d in dims.items()})
            s = ConversationDataSample(metainfo=dict(dialogue_id=str(i)))
            s.set_gt_label(torch.randint(0, num_classes, (length, ), generator=gen))
            s.set_speaker(torch.randint(0, speakers, (length, ), generator=gen))
            samples.append(s)
        yield dict(inputs=inputs, data_samples=samples)


def dataset_batches(cfg, num_batches: int, batch_size: int):
    ds = DATASETS.build(cfg.train_dataloader.dataset)
    for b in range(num_batches):
        idx = [(b * batch_size + i) % len(ds) for i in range(batch_size)]
        yield pseudo_collate([ds[i] for i in idx])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('config')
    parser.add_argument('--random', action='store_true',
                        help='random dialogues shaped like the config (no data files)')
    parser.add_argument('--length', type=int, default=48,
                        help='utterances per random dialogue (IEMOCAP averages ~48)')
    parser.add_argument('--batches', type=int, default=10)
    parser.add_argument('--threads', type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    init_default_scope('vega_mm')
    cfg = apply_modalities(Config.fromfile(args.config))
    bank = (cfg.model.get('vega_head') or {}).get('anchor_bank')
    if bank is not None and bank.get('anchor_file') and not osp.isfile(bank.anchor_file):
        # Speed does not depend on the anchors' values, only on their shape: random
        # anchors of the configured dimension stand in for a file that is not here.
        bank.update(anchor_file=None, random_anchors=True, dim=bank.get('dim') or 512)
    model = MODELS.build(cfg.model)
    bs = cfg.train_dataloader.batch_size
    make = (lambda: random_batches(cfg, args.batches, bs, args.length)) if args.random \
        else (lambda: dataset_batches(cfg, args.batches, bs))
    batches = list(make())
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=1e-4))
    n_params = sum(p.numel() for p in model.parameters())

    def utterances(batch):
        first = batch['inputs']
        first = next(iter(first.values())) if isinstance(first, dict) else \
            [next(iter(x.values())) for x in first]
        return sum(int(x.shape[0]) for x in first)

    model.train()
    model.train_step(batches[0], optim)  # warm-up
    start, count = time.perf_counter(), 0
    for batch in batches:
        model.train_step(batch, optim)
        count += utterances(batch)
    train_rate = count / (time.perf_counter() - start)
    model.eval()
    start, count = time.perf_counter(), 0
    with torch.no_grad():
        for batch in batches:
            model.test_step(batch)
            count += utterances(batch)
    infer_rate = count / (time.perf_counter() - start)
    print(f'config: {args.config}  parameters: {n_params / 1e6:.2f} M  '
          f'batch: {bs} dialogues  threads: {torch.get_num_threads()}')
    print(f'train: {train_rate:.0f} utterances/s   inference: {infer_rate:.0f} utterances/s')


if __name__ == '__main__':
    main()
