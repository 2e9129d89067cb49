"""Build hooks of vega_mm; the package metadata is in setup.cfg.

The only code here puts the configs, the tools and the model index inside the package
(``vega_mm/.mim``), as OpenMMLab packages do, so that an installed vega_mm serves
``vega_mm::`` config paths (MMEngine) and ``mim train/test/run/search vega_mm``:
copies for a wheel or an sdist, symbolic links for an editable install.
"""
import os
import os.path as osp
import shutil
import sys
import warnings

from setuptools import setup

#: what goes into vega_mm/.mim, relative to the repository root
MIM_FILES = ('configs', 'tools', 'model-index.yml')


def _install_mode() -> str:
    """'symlink' for an editable install, 'copy' for a wheel or an sdist, '' otherwise."""
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        return 'symlink'
    if 'sdist' in sys.argv or 'bdist_wheel' in sys.argv:
        return 'copy'
    return ''


def _replace(src: str, dst: str, mode: str) -> None:
    """Make ``dst`` a link to (``mode='symlink'``) or a copy of ``src``."""
    if osp.islink(dst) or osp.isfile(dst):
        os.remove(dst)
    elif osp.isdir(dst):
        shutil.rmtree(dst)
    if mode == 'symlink':
        try:
            os.symlink(osp.relpath(src, osp.dirname(dst)), dst)
            return
        except OSError:  # no symlink privilege (Windows): copy instead
            warnings.warn(f'cannot link {dst} to {src}; copying it instead')
    if osp.isdir(src):
        shutil.copytree(src, dst, ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
    else:
        shutil.copyfile(src, dst)


def add_mim_extension() -> None:
    """Fill vega_mm/.mim with links or copies of MIM_FILES (as mmpretrain's setup.py).

    Building from an sdist, whose vega_mm/.mim already holds the copies and which has
    no top-level configs/tools, keeps them.
    """
    mode = _install_mode()
    if not mode:
        return
    root = osp.dirname(osp.abspath(__file__))
    mim_path = osp.join(root, 'vega_mm', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in MIM_FILES:
        src = osp.join(root, name)
        if osp.exists(src):
            _replace(src, osp.join(mim_path, name), mode)


if __name__ == '__main__':
    add_mim_extension()
    setup()
