"""setup.py puts configs, tools and the model index into vega_mm/.mim (copies for a wheel
or an sdist, links for an editable install), and vega_mm makes itself known to MMEngine
under its own name only."""
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _setup_module(root: Path):
    spec = importlib.util.spec_from_file_location('vega_mm_setup', root / 'setup.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # setup() runs only as a script
    return module


@pytest.fixture
def checkout(tmp_path) -> Path:
    """The files setup.py reads, with a stale __pycache__ in tools/ that no copy takes."""
    for name in ('setup.py', 'model-index.yml'):
        shutil.copy2(REPO / name, tmp_path / name)
    for name in ('configs', 'tools'):
        shutil.copytree(REPO / name, tmp_path / name,
                        ignore=shutil.ignore_patterns('__pycache__'))
    (tmp_path / 'vega_mm').mkdir()
    (tmp_path / 'tools' / '__pycache__').mkdir()
    (tmp_path / 'tools' / '__pycache__' / 'train.cpython-311.pyc').write_bytes(b'')
    return tmp_path


@pytest.mark.parametrize('command,linked', [('editable_wheel', True), ('develop', True),
                                            ('bdist_wheel', False), ('sdist', False)])
def test_setup_fills_the_mim_folder(checkout, monkeypatch, command, linked):
    monkeypatch.setattr(sys, 'argv', ['setup.py', command])
    _setup_module(checkout).add_mim_extension()
    mim = checkout / 'vega_mm' / '.mim'
    assert sorted(os.listdir(mim)) == ['configs', 'model-index.yml', 'tools']
    for name in ('configs', 'tools', 'model-index.yml'):
        assert (mim / name).is_symlink() == linked, name
        if linked:  # relative: the checkout can move
            assert os.readlink(mim / name) == os.path.join('..', '..', name)
    assert (mim / 'configs' / 'vega' / 'vega_synthetic.py').read_text() == \
        (REPO / 'configs' / 'vega' / 'vega_synthetic.py').read_text()
    assert (mim / 'tools' / '__pycache__').exists() == linked  # copies leave caches out


def test_a_wheel_build_replaces_the_links_of_an_editable_install(checkout, monkeypatch):
    module = _setup_module(checkout)
    for command in ('editable_wheel', 'bdist_wheel'):
        monkeypatch.setattr(sys, 'argv', ['setup.py', command])
        module.add_mim_extension()
    mim = checkout / 'vega_mm' / '.mim'
    assert not (mim / 'configs').is_symlink() and (mim / 'configs' / 'vega').is_dir()
    assert (checkout / 'configs' / 'vega' / 'vega_synthetic.py').exists()  # sources kept


def test_other_setup_commands_leave_the_mim_folder_alone(checkout, monkeypatch):
    monkeypatch.setattr(sys, 'argv', ['setup.py', 'egg_info'])
    _setup_module(checkout).add_mim_extension()
    assert not (checkout / 'vega_mm' / '.mim').exists()


def test_the_mim_folder_is_not_committed():
    if shutil.which('git') is None or not (REPO / '.git').exists():
        pytest.skip('not a git checkout')
    proc = subprocess.run(['git', 'check-ignore', '-q', 'vega_mm/.mim/configs'], cwd=REPO)
    assert proc.returncode == 0


def test_vega_mm_adds_only_its_own_name_to_mmengines_packages():
    code = ('from mmengine.config.utils import MODULE2PACKAGE as M\n'
            'before = dict(M)\n'
            'import vega_mm.registry as r\n'
            'added = {k: v for k, v in M.items() if k not in before}\n'
            'assert added == {"vega_mm": "vega_mm"}, added\n'
            'assert all(M[k] == v for k, v in before.items())\n'
            # a package MMEngine knows: a registry without a location would make MMEngine
            # call vega_mm.utils.register_all_modules, which does not exist
            'for name in r.__all__:\n'
            '    getattr(r, name).import_from_location()\n'
            'print(len(r.__all__))\n')
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert int(proc.stdout) > 20
