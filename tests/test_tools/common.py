"""Running the command-line tools on tiny configs."""
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Dict, List, Optional

REPO = Path(__file__).resolve().parents[2]
SYNTHETIC = REPO / 'configs' / 'vega' / 'vega_synthetic.py'

# A tiny VEGA on a small synthetic set: seconds per epoch on one core.
TINY = """
_base_ = {base!r}
model = dict(
    backbone=dict(hidden_dim=16, num_heads=2),
    head=dict(vega_head=dict(anchor_bank=dict(dim=8))))
_n = (18, 8, 8)
train_dataloader = dict(batch_size=6, dataset=dict(num_dialogues=_n))
val_dataloader = dict(dataset=dict(num_dialogues=_n))
test_dataloader = dict(dataset=dict(num_dialogues=_n))
train_cfg = dict(max_epochs={epochs})
default_hooks = dict(logger=dict(interval=1))
"""


def write_tiny_config(folder: Path, epochs: int = 3, base: Path = SYNTHETIC,
                      extra: str = '') -> Path:
    path = folder / 'tiny.py'
    path.write_text(TINY.format(base=str(base), epochs=epochs) + extra)
    return path


def train_tiny_run(folder: Path, epochs: int = 4) -> Dict:
    """Train the tiny config for ``epochs`` with tools/train.py into ``folder / 'work'``.

    Returns:
        ``dict(cfg=<config path>, work=<work dir>, stdout=<the tool's stdout>)``.
    """
    cfg = write_tiny_config(folder, epochs=epochs)
    work = folder / 'work'
    proc = run_tool([str(REPO / 'tools' / 'train.py'), str(cfg), '--work-dir', str(work)])
    return dict(cfg=cfg, work=work, stdout=proc.stdout)


def snapshot(folder: Path) -> Dict[str, tuple]:
    """Every file under ``folder`` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob('*')) if p.is_file()}


def run_tool(args: List[str], cwd: Optional[Path] = None, timeout: int = 600,
             module: Optional[str] = None) -> subprocess.CompletedProcess:
    # The tools import the installed vega_mm; PYTHONPATH makes that the one of this
    # checkout, also where the editable install points at another copy of the repository.
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    cmd = [sys.executable] + (['-m', module] if module else []) + args
    proc = subprocess.run(cmd, cwd=cwd or REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        raise AssertionError(f'{" ".join(cmd)} failed ({proc.returncode}):\n'
                             f'{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}')
    return proc


def load_tool(relpath: str) -> ModuleType:
    """A tool script imported from its file (tools/ is not a package), e.g.
    ``load_tool('tools/extract_features.py')``; its ``main`` runs in this process."""
    path = REPO / relpath
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read_results(work_dir: Path) -> Dict:
    return json.loads((work_dir / 'results.json').read_text())


def val_history(work_dir: Path) -> List[Dict]:
    """Validation metrics per epoch from MMEngine's scalars.json."""
    files = sorted(work_dir.glob('*/vis_data/scalars.json'))
    rows = []
    for f in files:
        for line in f.read_text().splitlines():
            row = json.loads(line)
            if 'erc/weighted_f1' in row:
                rows.append(row)
    return rows
