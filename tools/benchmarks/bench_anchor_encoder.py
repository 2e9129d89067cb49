"""Throughput of the anchor image encoders (CLIP ViT-B/32, random weights).

Prints images/s per batch size for the encoders' full ``encode`` path (PIL image ->
preprocessing -> image tower -> L2 normalisation).  Random weights cost exactly what real
weights cost.  Not a test; numbers depend on the machine and its load::

    python tools/benchmarks/bench_anchor_encoder.py [--encoders open_clip hf_clip] \\
        [--images 64] [--batch-sizes 1 8 32] [--device cpu] [--repeats 3]
"""
import argparse
import glob
import os
import os.path as osp
import platform
import statistics
import time
import warnings

import numpy as np
import torch
from PIL import Image

FACES = osp.join(osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))),
                 'shared', 'data', 'faces')


def load_images(n: int) -> list:
    paths = sorted(glob.glob(osp.join(FACES, '*', '*.jpg')))
    if paths:
        images = [Image.open(p).convert('RGB') for p in paths]
    else:  # no shared data: random 224x224 images
        rng = np.random.default_rng(0)
        images = [Image.fromarray(rng.integers(0, 255, (224, 224, 3), dtype=np.uint8))
                  for _ in range(min(n, 32))]
    return [images[i % len(images)] for i in range(n)]


def build(kind: str, device: str, tmp: str):
    from vega_mm.encoders import HFCLIPImageEncoder, OpenCLIPImageEncoder
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        if kind == 'open_clip':
            return OpenCLIPImageEncoder('ViT-B-32', pretrained=None, device=device)
        from transformers import CLIPConfig, CLIPModel
        cfg = CLIPConfig(
            vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                               num_attention_heads=12, image_size=224, patch_size=32),
            text_config=dict(hidden_size=64, intermediate_size=128, num_hidden_layers=1,
                             num_attention_heads=2), projection_dim=512)
        CLIPModel(cfg).save_pretrained(tmp)
        return HFCLIPImageEncoder(tmp, device=device)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--encoders', nargs='+', default=['open_clip'],
                        choices=['open_clip', 'hf_clip'])
    parser.add_argument('--images', type=int, default=64)
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 8, 32])
    parser.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    parser.add_argument('--repeats', type=int, default=3)
    args = parser.parse_args()

    import tempfile
    images = load_images(args.images)
    load = os.getloadavg() if hasattr(os, 'getloadavg') else None
    print(f'machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, '
          f'torch {torch.__version__}, {torch.get_num_threads()} threads, device '
          f'{args.device}, load average before start {load}')
    print(f'{args.images} images ({"FER faces" if osp.isdir(FACES) else "random"}), '
          f'median of {args.repeats} runs after one warm-up batch')
    print('images/s is wall-clock; on a shared machine also look at CPU s/image (process '
          'CPU time per image, all threads), which load from other processes inflates less')
    print(f'{"encoder":<12} {"batch":>5} {"images/s":>9} {"ms/image":>9} {"CPU s/image":>12}')
    for kind in args.encoders:
        with tempfile.TemporaryDirectory() as tmp:
            enc = build(kind, args.device, tmp)
            enc.encode(images[:max(args.batch_sizes)], batch_size=max(args.batch_sizes))
            for bs in args.batch_sizes:
                rates, cpu = [], []
                for _ in range(args.repeats):
                    if args.device.startswith('cuda'):
                        torch.cuda.synchronize()
                    t0, c0 = time.perf_counter(), time.process_time()
                    enc.encode(images, batch_size=bs)
                    if args.device.startswith('cuda'):
                        torch.cuda.synchronize()
                    rates.append(len(images) / (time.perf_counter() - t0))
                    cpu.append((time.process_time() - c0) / len(images))
                rate = statistics.median(rates)
                print(f'{kind:<12} {bs:>5} {rate:>9.1f} {1000 / rate:>9.1f} '
                      f'{statistics.median(cpu):>12.3f}')


if __name__ == '__main__':
    main()
