"""Importing vega_mm changes nothing outside it: MMEngine's checkpoint loader and the
warning filters stay as they were. vega_mm installs its restricted checkpoint loading
where it loads checkpoints (building its runner, ``init_model``)."""
import ast
import os
import subprocess
import sys
import textwrap
from collections import OrderedDict
from typing import List

import pytest
from mmengine.config import Config
from mmengine.runner.checkpoint import CheckpointLoader
from mmengine.runner.checkpoint import load_from_local as mmengine_load_from_local

from tests.test_tools.common import REPO, SYNTHETIC, write_tiny_config
from vega_mm.utils import checkpoint as vega_checkpoint


def _module_level_third_party_imports() -> List[str]:
    """The other packages' modules that vega_mm's modules import when they load."""
    names = set()
    for path in (REPO / 'vega_mm').rglob('*.py'):
        for node in ast.parse(path.read_text()).body:  # module level only
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return sorted(n for n in names if n.split('.')[0] != 'vega_mm')


def _python(code: str, *args: str) -> subprocess.CompletedProcess:
    """``code`` run by a fresh interpreter (this checkout's vega_mm); it must succeed."""
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-c', textwrap.dedent(code), *args], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return proc


@pytest.mark.timeout(600)
def test_importing_every_vega_mm_module_changes_no_loader_and_no_warning_filter():
    out = _python(f'''
        import importlib, pkgutil, warnings
        # the libraries first: what they change when they load is theirs, not vega_mm's
        for name in {_module_level_third_party_imports()!r}:
            try:
                importlib.import_module(name)
            except ImportError:
                pass
        from mmengine.runner.checkpoint import CheckpointLoader
        loader, filters = CheckpointLoader._schemes[''], list(warnings.filters)
        import vega_mm
        modules = [m.name for m in pkgutil.walk_packages(vega_mm.__path__, 'vega_mm.')]
        for name in modules:
            importlib.import_module(name)
        assert CheckpointLoader._schemes[''] is loader, CheckpointLoader._schemes['']
        assert warnings.filters == filters, [f for f in warnings.filters if f not in filters]
        print(len(modules), loader.__module__)
    ''').stdout
    count, loader_module = out.split()
    assert int(count) > 50 and loader_module == 'mmengine.runner.checkpoint'


@pytest.mark.timeout(600)
def test_mmcv_lite_warning_is_hidden_only_around_vega_mm_importing_mmpretrain():
    """Importing vega_mm's models shows no "Fail to import MultiScaleDeformableAttention"
    (mmcv-lite lacks an op vega_mm does not use), and hiding it keeps every filter the
    libraries install as they load: the same filters as when mmpretrain came first."""
    code = '''
        import sys, warnings
        warnings.simplefilter('always')  # every warning shown, on stderr
        if sys.argv[1:] == ['mmpretrain_first']:
            import mmpretrain.models
        import vega_mm.models, vega_mm.apis
        print(sorted(repr(f) for f in warnings.filters))
    '''
    alone, after_mmpretrain = _python(code), _python(code, 'mmpretrain_first')
    assert 'MultiScaleDeformableAttention' not in alone.stderr, alone.stderr[-3000:]
    assert alone.stdout == after_mmpretrain.stdout


@pytest.fixture
def mmengine_loader(monkeypatch):
    """MMEngine's own local loader in place (restored after the test)."""
    schemes = OrderedDict(CheckpointLoader._schemes)
    schemes[''] = mmengine_load_from_local
    monkeypatch.setattr(CheckpointLoader, '_schemes', schemes)


def _local_loader():
    return CheckpointLoader._get_checkpoint_loader('work_dirs/epoch_1.pth')


def test_building_the_runner_installs_the_restricted_loader(mmengine_loader, tmp_path):
    from vega_mm.engine import build_runner
    cfg = Config.fromfile(str(write_tiny_config(tmp_path, epochs=1)))
    cfg.work_dir = str(tmp_path / 'work')
    assert _local_loader() is mmengine_load_from_local
    build_runner(cfg)
    assert _local_loader() is vega_checkpoint.load_from_local


def test_init_model_installs_the_restricted_loader(mmengine_loader):
    from tests.test_analysis.conftest import TINY
    from vega_mm.apis import init_model
    init_model(str(SYNTHETIC), None, cfg_options=dict(TINY))
    assert _local_loader() is vega_checkpoint.load_from_local


def test_installing_twice_changes_nothing(mmengine_loader):
    vega_checkpoint.register_checkpoint_loader()
    schemes = CheckpointLoader._schemes
    vega_checkpoint.register_checkpoint_loader()
    assert CheckpointLoader._schemes is schemes  # not registered again
    assert list(schemes).count('') == 1 and _local_loader() is vega_checkpoint.load_from_local
