"""vega_mm as a regular (non-editable) install: the wheel built from this checkout,
installed into a fresh virtual environment that reuses this environment's libraries
(torch, mmengine, mmpretrain, openmim) without reinstalling them, run from a folder that
is not the checkout. It serves ``vega_mm::`` configs, ``mim train/test/run/search
vega_mm`` and a VEGA head inside an mmpretrain config.

The checkout itself is never built in: the build runs on a copy, so a developer's
``vega_mm/.mim`` links stay links.
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import List

import pytest

REPO = Path(__file__).resolve().parents[2]
# What a build needs (setup.py, MANIFEST.in and setup.cfg name the rest).
BUILD_FILES = ('setup.py', 'setup.cfg', 'pyproject.toml', 'MANIFEST.in', 'README.md',
               'CHANGELOG.md', 'model-index.yml', 'vega_mm', 'configs', 'tools')
# A short synthetic run: a small model on 12/6/6 dialogues, one epoch.
TINY_OPTIONS = [
    'train_cfg.max_epochs=1', 'model.backbone.hidden_dim=16', 'model.backbone.num_heads=2',
    'model.head.vega_head.anchor_bank.dim=8', 'default_hooks.logger.interval=1',
    'train_dataloader.dataset.num_dialogues=(12,6,6)',
    'val_dataloader.dataset.num_dialogues=(12,6,6)',
    'test_dataloader.dataset.num_dialogues=(12,6,6)',
]
HAS_MIM = importlib.util.find_spec('mim') is not None
NEEDS_MIM = pytest.mark.skipif(not HAS_MIM, reason='openmim is not installed '
                               '(it is in the tests extra: pip install -e ".[tests]")')


def _site_dirs() -> List[str]:
    """This environment's site-packages folders (its own and those it reaches)."""
    return [p for p in sys.path if os.path.basename(p) in ('site-packages', 'dist-packages')]


def _copy_checkout(dst: Path) -> Path:
    for name in BUILD_FILES:
        src = REPO / name
        if src.is_dir():
            shutil.copytree(src, dst / name, ignore=shutil.ignore_patterns(
                '__pycache__', '*.pyc', '.mim', '*.egg-info'))
        elif src.exists():
            shutil.copy2(src, dst / name)
    return dst


class Venv:
    """A virtual environment with the wheel installed, run with PYTHONPATH unset."""

    def __init__(self, root: Path, wheel: Path):
        self.root = root
        subprocess.run([sys.executable, '-m', 'venv', '--without-pip', str(root)], check=True)
        self.python = str(root / 'bin' / 'python')
        # installed while the venv sees nothing else, so pip has nothing to replace
        self.run([sys.executable, '-m', 'pip', '--python', self.python, 'install',
                  '--no-deps', '--no-index', '--no-cache-dir', '-q', str(wheel)])
        site = self.run([self.python, '-c', 'import sysconfig; print(sysconfig.get_paths()'
                         '["purelib"])']).stdout.strip()
        # then the libraries of this environment, after the venv's own site-packages
        Path(site, '_test_env_libraries.pth').write_text('\n'.join(_site_dirs()) + '\n')
        self.site = Path(site)

    def run(self, args: List[str], cwd: Path = None,
            timeout: int = 600) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME')}
        env['OMP_NUM_THREADS'] = '1'
        proc = subprocess.run(args, cwd=cwd or self.root, env=env, capture_output=True,
                              text=True, timeout=timeout)
        if proc.returncode != 0:
            raise AssertionError(f'{" ".join(args)} failed ({proc.returncode}):\n'
                                 f'{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}')
        return proc

    def py(self, code: str, cwd: Path) -> str:
        return self.run([self.python, '-c', code], cwd=cwd).stdout

    def mim(self, *args: str, cwd: Path) -> subprocess.CompletedProcess:
        return self.run([self.python, '-m', 'mim', *args], cwd=cwd)


@pytest.fixture(scope='module')
def dists(tmp_path_factory):
    """The wheel and the sdist built from a copy of the checkout, without network."""
    try:
        import wheel  # noqa: F401  (bdist_wheel without build isolation needs it)
        subprocess.run([sys.executable, '-m', 'pip', '--version'], check=True,
                       capture_output=True)
    except (ImportError, subprocess.CalledProcessError):
        pytest.skip('pip or wheel is unavailable: cannot build a wheel')
    src = _copy_checkout(tmp_path_factory.mktemp('src'))
    out = tmp_path_factory.mktemp('dist')
    env = dict(os.environ, OMP_NUM_THREADS='1')
    subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--no-build-isolation',
                    '--no-index', '-q', '-w', str(out), str(src)], check=True, env=env,
                   capture_output=True, timeout=300)
    subprocess.run([sys.executable, '-c', 'from setuptools import build_meta; '
                    f'build_meta.build_sdist({str(out)!r})'], check=True, cwd=src, env=env,
                   capture_output=True, timeout=300)
    return dict(wheel=next(out.glob('*.whl')), sdist=next(out.glob('*.tar.gz')))


@pytest.fixture(scope='module')
def venv(dists, tmp_path_factory) -> Venv:
    return Venv(tmp_path_factory.mktemp('venv') / 'env', dists['wheel'])


@pytest.fixture
def elsewhere(tmp_path) -> Path:
    """A working folder outside the checkout."""
    folder = tmp_path / 'cwd'
    folder.mkdir()
    return folder


def _mim_names(names: List[str], prefix: str) -> List[str]:
    return sorted(n[len(prefix):] for n in names if n.startswith(prefix))


def test_the_wheel_and_the_sdist_hold_configs_tools_and_the_model_index(dists):
    names = zipfile.ZipFile(dists['wheel']).namelist()
    configs = _mim_names(names, 'vega_mm/.mim/configs/')
    assert configs == sorted(str(p.relative_to(REPO / 'configs'))
                             for p in (REPO / 'configs').rglob('*')
                             if p.suffix in ('.py', '.yml'))
    assert 'train.py' in _mim_names(names, 'vega_mm/.mim/tools/')
    assert 'dist_train.sh' in _mim_names(names, 'vega_mm/.mim/tools/')
    assert 'vega_mm/.mim/model-index.yml' in names
    assert not [n for n in names if '__pycache__' in n or n.startswith(('tests/', 'configs/'))]
    with tarfile.open(dists['sdist']) as tar:
        members = [m.split('/', 1)[1] for m in tar.getnames() if '/' in m]
    assert {'vega_mm/.mim/configs/vega/vega_synthetic.py', 'vega_mm/.mim/tools/train.py',
            'vega_mm/.mim/model-index.yml', 'configs/vega/vega_synthetic.py',
            'tools/train.py', 'setup.py', 'MANIFEST.in'} <= set(members)


def test_the_installed_vega_mm_serves_package_config_paths(venv, elsewhere):
    (elsewhere / 'mine.py').write_text("_base_ = ['vega_mm::vega/vega_meld.py']\n"
                                       "train_cfg = dict(max_epochs=3)\n")
    out = venv.py(
        'import sys, vega_mm\n'
        'from mmengine.config import Config\n'
        'from mmengine.hub import get_config\n'
        'cfg = get_config("vega_mm::vega/vega_synthetic.py")\n'
        'mine = Config.fromfile("mine.py")\n'
        'print(vega_mm.__file__)\n'
        'print(cfg.filename)\n'
        'print(cfg.model.type, len(cfg.model.classes), mine.model.type, '
        'mine.train_cfg.max_epochs, mine.train_dataloader.dataset.type)\n'
        # the checkout's own files, not this environment's packages (its venv may lie
        # inside the checkout, as .venv does for make test)
        f'print(any(p.startswith({str(REPO)!r}) and not p.startswith({sys.prefix!r}) '
        'for p in sys.path))\n', cwd=elsewhere)
    module, filename, summary, repo_on_path = out.strip().splitlines()
    assert Path(module).is_relative_to(venv.site), module  # the wheel's, not the checkout's
    assert Path(filename).is_relative_to(venv.site / 'vega_mm' / '.mim' / 'configs'), filename
    assert summary.split()[:2] == ['ConversationClassifier', '6']
    assert summary.split()[2:4] == ['ConversationClassifier', '3'], summary
    assert repo_on_path == 'False'


# A user's own config inheriting a packaged one (docs/installation.md): MMEngine gives
# every inherited dict with a `type` a `_scope_`, the data loaders' `collate_fn` included.
OWN_CONFIG = """_base_ = ['vega_mm::vega/vega_synthetic.py']
train_cfg = dict(max_epochs=1)
model = dict(backbone=dict(hidden_dim=16, num_heads=2),
             head=dict(vega_head=dict(anchor_bank=dict(dim=8))))
train_dataloader = dict(dataset=dict(num_dialogues=(12, 6, 6)))
val_dataloader = dict(dataset=dict(num_dialogues=(12, 6, 6)))
test_dataloader = dict(dataset=dict(num_dialogues=(12, 6, 6)))
"""


def test_an_own_config_inheriting_a_packaged_one_trains_and_infers(venv, elsewhere):
    import mmengine
    (elsewhere / 'mine.py').write_text(OWN_CONFIG)
    train_tool = venv.site / 'vega_mm' / '.mim' / 'tools' / 'train.py'
    infer_tool = venv.site / 'vega_mm' / '.mim' / 'tools' / 'infer.py'
    work = elsewhere / 'work'
    venv.run([venv.python, str(train_tool), 'mine.py', '--work-dir', str(work)],
             cwd=elsewhere)
    ckpt = sorted(work.glob('best_*.pth')) or sorted(work.glob('epoch_*.pth'))
    assert ckpt, sorted(p.name for p in work.iterdir())
    # the scope really was added to the inherited collate_fn (what broke the route)
    cfg = mmengine.Config.fromfile(next(work.glob('*.py')))
    assert cfg.train_dataloader.collate_fn.get('_scope_') == 'vega_mm', cfg.train_dataloader
    # one inference from the trained model, on a feature file of new dialogues
    venv.py('from vega_mm.datasets import make_synthetic_conversations, save_native\n'
            'c = make_synthetic_conversations((2, 2, 3), seed=7)\n'
            'save_native("new.npz", c.dialogues, c.classes, c.splits)\n',
            cwd=elsewhere)
    out = elsewhere / 'predictions.jsonl'
    venv.run([venv.python, str(infer_tool), 'mine.py', str(ckpt[0]), 'new.npz',
              '--split', 'test', '--out', str(out)], cwd=elsewhere)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len({r['dialogue_id'] for r in rows}) == 3, rows[:2]
    # the causal MELD text base: its loaders' collate, called as the Runner calls it
    # (mmengine.runner.Runner.build_dataloader), takes the scope too
    (elsewhere / 'causal.py').write_text("_base_ = ['vega_mm::vega/vega_meld_text_causal.py']\n"
                                         'train_cfg = dict(max_epochs=3)\n')
    shapes = venv.py(
        'from functools import partial\n'
        'from mmengine.config import Config\n'
        'from mmengine.registry import FUNCTIONS\n'
        'from vega_mm.datasets import random_dialogues\n'
        'cfg = Config.fromfile("causal.py")\n'
        'for key in ("train_dataloader", "val_dataloader", "test_dataloader"):\n'
        '    c = dict(cfg[key].collate_fn)\n'
        '    collate = partial(FUNCTIONS.get(c.pop("type")), **c)\n'
        '    batch = collate(random_dialogues(dict(text=4), [3, 2], 7))\n'
        '    print(c.get("_scope_"), tuple(batch["inputs"]["mask"].shape))\n', cwd=elsewhere)
    assert shapes.split('\n')[:3] == ['vega_mm (2, 3)'] * 3, shapes
    classes = {'happy', 'sad', 'neutral', 'anger', 'excited', 'frustration'}
    assert rows and all(r['pred_class' if 'pred_class' in r else 'pred_label'] in classes
                        for r in rows), rows[:2]


@NEEDS_MIM
def test_mim_trains_and_tests_the_installed_package(venv, elsewhere):
    work = elsewhere / 'work'
    venv.mim('train', 'vega_mm', 'vega_synthetic.py', '--work-dir', str(work), '--no-test',
             '--cfg-options', *TINY_OPTIONS, cwd=elsewhere)
    ckpt = sorted(work.glob('best_*.pth')) or sorted(work.glob('epoch_*.pth'))
    assert ckpt, sorted(p.name for p in work.iterdir())
    out = work / 'test_out.json'
    venv.mim('test', 'vega_mm', 'vega_synthetic.py', '--checkpoint', str(ckpt[0]),
             '--work-dir', str(work / 'test'), '--out', str(out), '--cfg-options',
             *TINY_OPTIONS, cwd=elsewhere)
    assert out.exists(), sorted(p.name for p in work.iterdir())
    text = out.read_text()
    assert 'weighted_f1' in text, text[:500]


@NEEDS_MIM
def test_mim_runs_a_tool_and_searches_the_model_index(venv, elsewhere):
    # mim answers `--help` itself, and only for the codebases on its own list: `--` passes
    # it to the script
    helped = venv.mim('run', 'vega_mm', 'extract_features', '--', '--help',
                      cwd=elsewhere).stdout
    assert 'usage:' in helped and 'extract_features' in helped, helped[-2000:]
    found = venv.mim('search', 'vega_mm', cwd=elsewhere).stdout
    assert 'vega_synthetic' in found and 'sdt_synthetic' in found, found[-3000:]


def _write_images(root: Path, classes: List[str], per_class: int = 2) -> None:
    import numpy as np
    from PIL import Image
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / c / f'{i}.png')


MMPRETRAIN_CONFIG = """
default_scope = 'mmpretrain'
custom_imports = dict(imports=['vega_mm.models'], allow_failed_imports=False)
classes = ('angry', 'happy', 'sad')
model = dict(
    type='ImageClassifier',
    data_preprocessor=dict(num_classes=3, mean=[127.5] * 3, std=[127.5] * 3),
    backbone=dict(type='ResNet', depth=18, out_indices=(3, )),
    neck=dict(type='GlobalAveragePooling'),
    head=dict(type='vega_mm.VEGAHead', num_classes=3, in_channels=512, class_names=classes,
              anchor_bank=dict(type='AnchorBank', dim=8, random_anchors=True)))
_data = dict(type='CustomDataset', data_root={root!r}, with_label=True,
             pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')])
train_dataloader = dict(batch_size=3, num_workers=0, dataset=_data,
                        sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(batch_size=3, num_workers=0, dataset=_data,
                      sampler=dict(type='DefaultSampler', shuffle=False))
val_evaluator = dict(type='Accuracy', topk=(1, ))
optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.01, momentum=0.9))
train_cfg = dict(by_epoch=True, max_epochs=1, val_interval=1)
val_cfg = dict()
default_hooks = dict(logger=dict(type='LoggerHook', interval=1),
                     checkpoint=dict(type='CheckpointHook', interval=1))
env_cfg = dict(dist_cfg=dict(backend='gloo'))
"""


def test_an_mmpretrain_config_trains_a_vega_head_of_the_installed_package(venv, elsewhere):
    import mmpretrain
    classes = ['angry', 'happy', 'sad']
    _write_images(elsewhere / 'images', classes)
    cfg = elsewhere / 'vega_head_cls.py'
    cfg.write_text(MMPRETRAIN_CONFIG.format(root=str(elsewhere / 'images')))
    # mmpretrain's own training tool, as `mim train mmpretrain` runs it
    train_tool = Path(mmpretrain.__file__).parent / '.mim' / 'tools' / 'train.py'
    if not train_tool.exists():
        pytest.skip(f'{train_tool} is missing: mmpretrain is not a regular install')
    work = elsewhere / 'work'
    venv.run([venv.python, str(train_tool), str(cfg), '--work-dir', str(work),
              '--no-persistent-workers'], cwd=elsewhere)
    assert (work / 'epoch_1.pth').exists(), sorted(p.name for p in work.iterdir())
    scalars = [json.loads(line) for p in work.glob('*/vis_data/scalars.json')
               for line in p.read_text().splitlines()]
    assert any('loss_anc' in row for row in scalars), scalars[:3]
    assert any('accuracy/top1' in row for row in scalars), scalars[-2:]
