"""The pieces of one training-speed measurement (``speed_worker.py``): the model and
random dialogues a checkout builds, timed training and inference steps, peak memory.

Beside the benchmark, not in the package, because they must run unchanged against any
checkout (``bench_training_speed.py --compare`` measures older ones, whose ``vega_mm``
does not have them): they import only what every checkout has (the registry,
``ConversationDataSample``, ``random_dialogue_batch`` where present).
"""
import os
import os.path as osp
import sys
import threading
import time

PHASES = ('data', 'forward', 'backward', 'optimizer')


class PeakRSS:
    """Peak resident memory while in the block, sampled every 5 ms, in MB above the
    value at entry (the driver lowers ``MALLOC_MMAP_THRESHOLD_`` for memory runs, so
    freed large blocks go back to the system)."""

    def __enter__(self):
        self.base = self.peak = self._rss()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._rss())

    def _watch(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, self._rss())

    @staticmethod
    def _rss() -> float:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE') / 2**20


def model_cfg(config: str, cfg_options):
    """The model config of ``config`` as the checkout reads it; absent anchor files are
    replaced by random anchors (speed does not depend on their values)."""
    from mmengine.config import Config
    cfg = Config.fromfile(config)
    if cfg_options:
        cfg.merge_from_dict(cfg_options)
    try:  # the modalities declaration (absent from older checkouts)
        from vega_mm.utils import apply_modalities
        cfg = apply_modalities(cfg)
    except ImportError:
        pass
    # the VEGA head: inside the one head (today) or its own slot (older checkouts)
    vega = (cfg.model.get('head') or {}).get('vega_head') or cfg.model.get('vega_head') or {}
    bank = vega.get('anchor_bank')
    if bank is not None and bank.get('anchor_file') and not osp.isfile(bank.anchor_file):
        bank.update(anchor_file=None, random_anchors=True, dim=bank.get('dim') or 512)
    return cfg


def dialogues(model, count: int, shortest: int, longest: int, batch: int, seed: int = 0):
    """Batches of random dialogues as a data loader gives them, in the checkout's layout."""
    import torch
    backbone = model.get('backbone') or model.neck  # ``neck`` before the backbone slot
    dims = dict(backbone.input_dims)
    if model.get('modalities'):
        dims = {m: dims[m] for m in model.modalities}
    classes = len(model.classes) if model.get('classes') else model.head.num_classes
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.randint(shortest, longest + 1, (count, ), generator=gen).tolist()
    try:
        from vega_mm.datasets import random_dialogue_batch
    except ImportError:  # a checkout from before random_dialogue_batch
        random_dialogue_batch = _older_layout_batch
    return [random_dialogue_batch(dims, lengths[start:start + batch], classes,
                                  num_speakers=backbone.num_speakers, seed=seed + start)
            for start in range(0, count, batch)]


def _older_layout_batch(dims, lengths, num_classes, num_speakers, seed):
    """``inputs={m: [L, D]}`` with the speakers in the data sample (older checkouts)."""
    import torch
    from vega_mm.structures import ConversationDataSample
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for i, n in enumerate(lengths):
        inputs.append({m: torch.randn(n, d, generator=gen) for m, d in dims.items()})
        sample = ConversationDataSample(metainfo=dict(dialogue_id=f'd{i}'))
        sample.set_gt_label(torch.randint(0, num_classes, (n, ), generator=gen))
        sample.set_speaker(torch.randint(0, num_speakers, (n, ), generator=gen))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def train_steps(model, optim, batches, autocast: dict, now, warmup: bool = True) -> dict:
    """Train on ``batches``; seconds per phase, the first batch not counted if ``warmup``."""
    import torch
    model.train()
    times = dict.fromkeys(PHASES, 0.0)
    for i, batch in enumerate(batches):
        marks = [now()]
        with torch.autocast(**autocast):
            data = model.data_preprocessor(batch, True)
            marks.append(now())
            loss, _ = model.parse_losses(model(**data, mode='loss'))
        marks.append(now())
        loss.backward()
        marks.append(now())
        optim.step()
        optim.zero_grad()
        marks.append(now())
        if i or not warmup:
            for phase, start, end in zip(PHASES, marks, marks[1:]):
                times[phase] += end - start
    return times


def build(cfg, precision: str, compile_backbone: bool = False):
    """Model, optimizer (the config's, autocast done by the caller as the bf16 optim
    wrapper does) and autocast arguments for one precision."""
    import torch
    from mmengine.optim import build_optim_wrapper
    from vega_mm.registry import MODELS
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    if compile_backbone:
        model.backbone = torch.compile(model.backbone, dynamic=True)
    optim_cfg = dict(cfg.optim_wrapper, type='OptimWrapper')
    optim_cfg.pop('dtype', None)
    return model, build_optim_wrapper(model, optim_cfg), dict(
        device_type='cpu', dtype=torch.bfloat16, enabled=precision == 'bf16')


def infer(model, autocast: dict, batches, now) -> float:
    import torch
    model.eval()
    with torch.no_grad(), torch.autocast(**autocast):
        start = now()
        for batch in batches:
            model.test_step(batch)
        return now() - start
