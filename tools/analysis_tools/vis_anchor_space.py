"""The VEGA anchor space in 2-D: test utterances, class anchors and exemplars.

    python tools/analysis_tools/vis_anchor_space.py CONFIG CHECKPOINT --out-dir DIR

Projects every utterance of a split with the VEGA head's fused projection
(L2-normalised), and maps utterances, class centres and exemplars to 2-D with one
t-SNE (``--method umap`` with umap-learn installed).  Writes ``anchor_space.png``,
``anchor_space.csv`` (every point) and ``anchor_space.json`` (nearest-centre scores and
mean cosines, computed in the original space).
"""
import argparse
import os.path as osp

from mmengine.config import DictAction
from mmengine.runner import Runner

from vega_mm.analysis import EMBEDDING_METHODS, anchor_space_map, write_anchor_space_outputs
from vega_mm.apis import init_model
from vega_mm.utils import CheckpointError


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Draw the VEGA anchor space in 2-D')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint of a VEGA model')
    parser.add_argument('--out-dir', required=True, help='folder for the PNG, CSV, JSON')
    parser.add_argument('--split', choices=['test', 'val'], default='test',
                        help='whose utterances to project (default: test)')
    parser.add_argument('--branch', default='fused',
                        help='projection branch: fused (default) or a modality')
    parser.add_argument('--method', choices=list(EMBEDDING_METHODS), default='tsne',
                        help='2-D map (default: t-SNE; umap needs umap-learn)')
    parser.add_argument('--seed', type=int, default=0, help='random state of the map')
    parser.add_argument('--device', default='cpu', help='e.g. cpu or cuda:0')
    parser.add_argument('--title', help='title of the picture')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings in the config')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    try:
        model = init_model(args.config, args.checkpoint, args.device, args.cfg_options)
        loader_cfg = model.cfg.get(f'{args.split}_dataloader')
        if not loader_cfg:
            raise ValueError(f'{args.config}: no {args.split}_dataloader')
        loader = Runner.build_dataloader(loader_cfg)
        classes = list((model.dataset_meta or {}).get('classes') or
                       loader.dataset.metainfo['classes'])
        result = anchor_space_map(model, loader, classes, args.method, args.seed,
                                  args.branch)
    except (FileNotFoundError, ValueError, ImportError, CheckpointError) as exc:
        raise SystemExit(f'error: {exc}')
    summary = result['summary']
    summary.update(config=args.config, checkpoint=args.checkpoint, split=args.split)
    title = args.title or (f'{osp.basename(args.config)}: {args.branch} projections of the '
                           f'{args.split} utterances ({args.method})')
    paths = write_anchor_space_outputs(result['coords'], result['kinds'], result['labels'],
                                       classes, summary, args.out_dir, title)
    near = summary['nearest_centre']
    print(f'{summary["points"]["utterances"]} utterances, {len(classes)} anchors, '
          f'{summary["points"]["exemplars"]} exemplars; nearest-centre accuracy '
          f'{near["accuracy"]:.2f}, weighted F1 {near["weighted_f1"]:.2f}')
    print('wrote ' + ', '.join(paths.values()))


if __name__ == '__main__':
    main()
