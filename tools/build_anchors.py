"""Build a visual emotion anchor file from face images (one subfolder per emotion).

Examples::

    # the paper's encoder (CLIP ViT-B/32, OpenAI weights) from a local file
    python tools/build_anchors.py FACES_DIR --out anchors/meld_vitb32.pt \\
        --weights ViT-B-32.pt --classes meld

    # IEMOCAP: excited and frustration borrow the happy and angry images
    python tools/build_anchors.py FACES_DIR --out anchors/iemocap_vitb32.pt \\
        --weights openai --classes iemocap --map excited=happy --map frustration=angry

    # transformers CLIP from a save_pretrained directory, with face cropping
    python tools/build_anchors.py FACES_DIR --out X.pt --encoder hf_clip \\
        --weights clip-vit-base-patch32/ --detect-faces

    # everything from a config file (keys: encoder, face_detector, classes,
    # class_mapping, batch_size), flags override it
    python tools/build_anchors.py FACES_DIR --out X.pt --config my_anchor_cfg.py

The report (images per class, skipped files, faces not found, images/s) is printed at
the end.  Point a VEGA config's ``model.head.vega_head.anchor_bank.anchor_file`` to the output.
"""
import argparse
import os
import sys
from typing import List, Optional

from vega_mm.encoders import ENCODER_ALIASES


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description='Build VEGA visual anchors from a folder of face images, one '
        'subfolder per emotion.', formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('faces_dir', help='folder with one subfolder of images per class')
    parser.add_argument('--out', required=True, help='anchor file to write (.pt)')
    parser.add_argument('--config', help='python config with encoder / face_detector / '
                        'classes / class_mapping / batch_size entries')
    parser.add_argument('--encoder', choices=sorted(ENCODER_ALIASES),
                        help='image encoder library (default: open_clip)')
    parser.add_argument('--model', help='open_clip model name (ViT-B-32), transformers hub '
                        'name, or mmpretrain arch; default per encoder')
    parser.add_argument('--weights', help='open_clip: a tag (openai, needs the network) or '
                        'a local .safetensors/.bin/.pt file; hf_clip: a save_pretrained '
                        'directory or hub name; mmpretrain_clip: a local checkpoint; '
                        'fer_cnn: a local file (default: the weights pip package '
                        'what-the-face-classification installs). Without it the CLIP '
                        'encoders are RANDOMLY initialised (tests only)')
    parser.add_argument('--quick-gelu', action='store_true', default=None,
                        help='open_clip: build with QuickGELU (OpenAI weights in a '
                        'state-dict file; tags and OpenAI .pt files set it themselves)')
    parser.add_argument('--classes', help="anchor classes in order: 'iemocap', 'meld' or "
                        "a comma-separated list (default: every subfolder)")
    parser.add_argument('--map', action='append', default=None, metavar='CLASS=OTHER',
                        help='a class without images uses the images of another class '
                        '(repeatable): --map excited=happy --map frustration=angry')
    parser.add_argument('--detect-faces', action='store_true', default=None,
                        help='crop the largest face (OpenCV Haar cascade) before encoding')
    parser.add_argument('--face-margin', type=float, default=None,
                        help='margin around detected faces, fraction of the box (0.2)')
    parser.add_argument('--batch-size', type=int, default=None, help='images per batch (32)')
    parser.add_argument('--device', default=None, help="'cpu', 'cuda', 'cuda:1' (default: "
                        'cuda when available)')
    parser.add_argument('--seed', type=int, default=0,
                        help='torch seed (only matters for a randomly initialised encoder)')
    parser.add_argument('--no-progress', action='store_true', help='no progress bar')
    return parser.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    import torch

    from vega_mm.anchors import (AnchorClassError, anchor_build_config,
                                 build_anchor_bank_from_folder)

    from vega_mm.utils.io import check_output_file

    torch.manual_seed(args.seed)
    try:
        check_output_file(args.out, '--out')  # before the long work, not after
        kwargs = anchor_build_config(
            args.config, encoder=args.encoder, model=args.model, weights=args.weights,
            quick_gelu=args.quick_gelu, device=args.device, classes=args.classes,
            class_mapping=args.map, detect_faces=args.detect_faces,
            face_margin=args.face_margin, batch_size=args.batch_size)
        report = build_anchor_bank_from_folder(args.faces_dir, **kwargs,
                                               progress=not args.no_progress)
    except (AnchorClassError, FileNotFoundError, ValueError, KeyError, ImportError,
            RuntimeError) as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 1
    try:
        report.save(args.out)
    except (OSError, ValueError) as exc:
        print(f'error: could not write {args.out!r}: {exc}', file=sys.stderr)
        return 1
    print(report.to_table())
    print(f'\nwrote {len(report.class_names)} classes x {report.dim}-d anchors to '
          f'{os.path.abspath(args.out)}')
    print(f'images/s: {report.images_per_second:.2f}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
