"""configs/vega/vega-head_resnet18_faces.py end to end on the real faces in
../shared/data/faces: anchors from the anchor builder, tools/train.py, tools/test.py."""
import json
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config

from tests.test_tools.common import REPO, read_results, run_tool
from vega_mm.anchors import build_anchor_bank_from_folder, load_anchor_file
from vega_mm.encoders import ImageEncoder
from vega_mm.utils import load_runner_checkpoint

CONFIG = REPO / 'configs' / 'vega' / 'vega-head_resnet18_faces.py'
FACES = REPO.parent / 'shared' / 'data' / 'faces'
TRAIN = str(REPO / 'tools' / 'train.py')
TEST = str(REPO / 'tools' / 'test.py')


class PixelProjectionEncoder(ImageEncoder):
    """A cheap stand-in for CLIP ViT-B/32 (512-d) so the test spends its time on
    training: 16x16 grayscale pixels through a fixed random projection."""

    def __init__(self) -> None:
        self.model = torch.nn.Identity()
        self.device = torch.device('cpu')
        self.dim = 512
        self.identity = dict(type='PixelProjectionEncoder', model='pixels-16', weights=None,
                             weights_sha256=None, random_init=True, dim=512)
        self.proj = torch.randn(256, 512, generator=torch.Generator().manual_seed(0))

    def preprocess(self, images):
        arr = [np.asarray(im.convert('L').resize((16, 16)), dtype=np.float32) / 255.
               for im in images]
        return torch.from_numpy(np.stack(arr))[:, None].expand(-1, 3, -1, -1)

    def forward_features(self, pixels):
        return (pixels[:, 0].flatten(1) - 0.5) @ self.proj


def split_class_folder(src: Path, dst: Path, ratio: float = 0.15, seed: int = 0) -> None:
    """The split recipe of docs/mmpretrain_heads.md: per class, a seeded shuffle, then
    ``ratio`` of the images to val, as many to test, the rest to train (symlinks)."""
    for cls in sorted(p for p in src.iterdir() if p.is_dir()):
        files = sorted(f for f in cls.iterdir() if f.is_file())
        random.Random(seed).shuffle(files)
        k = max(1, round(ratio * len(files)))
        parts = dict(val=files[:k], test=files[k:2 * k], train=files[2 * k:])
        for split, part in parts.items():
            (dst / split / cls.name).mkdir(parents=True, exist_ok=True)
            for f in part:
                (dst / split / cls.name / f.name).symlink_to(f.resolve())


@pytest.fixture(scope='module')
def faces_split(tmp_path_factory) -> Path:
    """../shared/data/faces split into train/val/test class folders (8/2/2 per class)."""
    if not FACES.is_dir():
        pytest.skip(f'shared face images not found at {FACES}')
    root = tmp_path_factory.mktemp('faces')
    split_class_folder(FACES, root)
    counts = {s: len(list((root / s).glob('*/*.jpg'))) for s in ('train', 'val', 'test')}
    assert counts == dict(train=56, val=14, test=14)
    return root


@pytest.fixture(scope='module')
def anchor_file(faces_split, tmp_path_factory) -> Path:
    """Anchors built by the anchor builder from the TRAINING images only."""
    report = build_anchor_bank_from_folder(str(faces_split / 'train'),
                                           PixelProjectionEncoder(), progress=False)
    path = tmp_path_factory.mktemp('anchors') / 'faces_pixels512.pt'
    report.save(str(path))
    return path


@pytest.fixture(scope='module')
def trained(faces_split, anchor_file, tmp_path_factory):
    """Two epochs of the config, unchanged but for paths, loaders and epochs."""
    folder = tmp_path_factory.mktemp('faces_run')
    cfg = folder / 'faces_tiny.py'
    root = str(faces_split)
    cfg.write_text(f"""
_base_ = {str(CONFIG)!r}
model = dict(head=dict(anchors={str(anchor_file)!r}))
train_dataloader = dict(batch_size=28, num_workers=0, dataset=dict(data_root={root!r}))
val_dataloader = dict(num_workers=0, dataset=dict(data_root={root!r}))
test_dataloader = dict(num_workers=0, dataset=dict(data_root={root!r}))
train_cfg = dict(max_epochs=2)
default_hooks = dict(logger=dict(interval=1))
""")
    work = folder / 'work'
    proc = run_tool([TRAIN, str(cfg), '--work-dir', str(work)])
    return dict(cfg=cfg, work=work, stdout=proc.stdout)


def test_config_classes_are_the_sorted_class_folders():
    """CustomDataset numbers classes in sorted folder order; the head's anchors are
    matched to ``classes``: both must agree for the anchors to mean anything."""
    cfg = Config.fromfile(str(CONFIG))
    assert cfg.model.type == 'ImageClassifier' and cfg.model.backbone.depth == 18
    assert cfg.model.head.type == 'VEGAHead'
    assert cfg.model.head.anchors == 'data/anchors/faces_vitb32.pt'
    assert cfg.train_dataloader.dataset.data_root == 'data/faces'
    if FACES.is_dir():
        assert list(cfg.classes) == sorted(p.name for p in FACES.iterdir() if p.is_dir())
    assert list(cfg.model.head.class_names) == list(cfg.classes)


def test_train_selects_on_val_accuracy_and_reports_val_and_test(trained, anchor_file):
    res = read_results(trained['work'])
    assert 'best_accuracy_top1_epoch_' in res['best_checkpoint']
    for split in ('val', 'test'):
        assert 0.0 <= res[split]['accuracy/top1'] <= 100.0
        assert 'single-label/f1-score' in res[split]
    assert '| top1 |' in trained['stdout'] and '| f1-score |' in trained['stdout']
    # the checkpoint carries the anchors built from the training faces
    state = load_runner_checkpoint(res['best_checkpoint'])['state_dict']
    anchors = load_anchor_file(str(anchor_file))
    assert anchors['meta']['encoder']['model'] == 'pixels-16'
    torch.testing.assert_close(state['head.anchor_bank.centers'], anchors['centers'])


def test_test_tool_reproduces_the_best_checkpoint_test_metrics(trained, tmp_path):
    res = read_results(trained['work'])
    work = tmp_path / 'w'
    out = tmp_path / 'preds.json'
    proc = run_tool([TEST, str(trained['cfg']), res['best_checkpoint'], '--work-dir',
                     str(work), '--out', str(out)])
    (log,) = work.glob('*/*.json')  # mmengine's LoggerHook dumps the test metrics
    metrics = json.loads(log.read_text())
    for key in ('accuracy/top1', 'single-label/f1-score'):
        assert metrics[key] == pytest.approx(res['test'][key], abs=1e-4), key
    assert '| top1 |' in proc.stdout
    dumped = json.loads(out.read_text())
    assert dumped['metrics']['accuracy/top1'] == pytest.approx(res['test']['accuracy/top1'])
    preds = dumped['predictions']
    # one prediction record per image: its path instead of a conversation
    assert preds and all(isinstance(p['pred_label'], int) and p['img_path'] for p in preds)
    assert len(preds[0]['pred_scores']) == 7 and 'dialogue_id' not in preds[0]


@pytest.mark.filterwarnings('ignore:Fail to import ``MultiScaleDeformableAttention``')
def test_config_starts_from_local_imagenet_weights(anchor_file, tmp_path):
    """The documented fine-tuning override: an mmpretrain checkpoint (a local file here)
    initialises the backbone, and only the backbone."""
    from mmengine.registry import init_default_scope
    from mmpretrain.models import ImageClassifier

    from vega_mm.registry import MODELS
    torch.manual_seed(0)
    src = ImageClassifier(backbone=dict(type='ResNet', depth=18, out_indices=(3, )),
                          neck=dict(type='GlobalAveragePooling'))
    ckpt = tmp_path / 'resnet18_in1k.pth'
    torch.save(dict(state_dict=src.state_dict(), meta=dict(mmcls_version='0.16.0')), ckpt)
    cfg = Config.fromfile(str(CONFIG))
    cfg.merge_from_dict({'model.head.anchors': str(anchor_file),
                         'model.backbone.init_cfg.type': 'Pretrained',
                         'model.backbone.init_cfg.checkpoint': str(ckpt),
                         'model.backbone.init_cfg.prefix': 'backbone'})
    init_default_scope('vega_mm')
    model = MODELS.build(cfg.model)
    model.init_weights()
    for key, value in src.backbone.state_dict().items():
        torch.testing.assert_close(model.backbone.state_dict()[key], value)
