"""The OpenMMLab launchers beside tools/train.py and tools/test.py: dist_test.sh runs
tools/test.py in torchrun processes (gloo on the CPU here) and gives the single
process's metrics; slurm_train.sh and slurm_test.sh hand srun the task layout and the
tool's command line (a stand-in srun records what it is given)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_tools.common import REPO

TOOLS = REPO / 'tools'


def _env(**extra) -> dict:
    # the scripts call "python": the interpreter running the tests
    path = f'{Path(sys.executable).parent}{os.pathsep}{os.environ.get("PATH", "")}'
    return dict(os.environ, PATH=path, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO), **extra)


def test_dist_test_gives_the_single_process_metrics(tiny_run, tmp_path):
    """Two processes each evaluate half of the test split; the metric gathers both."""
    res = tiny_run['results']
    out = tmp_path / 'preds.json'
    proc = subprocess.run(
        ['bash', str(TOOLS / 'dist_test.sh'), str(tiny_run['cfg']), res['best_checkpoint'],
         '2', '--work-dir', str(tmp_path / 'w'), '--out', str(out)],
        env=_env(PORT='29533'), cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    dumped = json.loads(out.read_text())
    for key, value in res['test'].items():
        assert dumped['metrics'][key] == pytest.approx(value, abs=1e-6), key
    ids = [(p['dialogue_id'], p['utterance_id']) for p in dumped['predictions']]
    assert len(ids) == len(set(ids))  # the sampler's padding is not counted twice


FAKE_SRUN = """#!/usr/bin/env bash
python - "$@" <<'PY'
import json, os, sys
with open(os.environ['SRUN_LOG'], 'w') as f:
    json.dump(dict(args=sys.argv[1:], pythonpath=os.environ.get('PYTHONPATH', '')), f)
PY
"""


@pytest.mark.parametrize('script, tool, fourth', [('slurm_train.sh', 'train.py', 'work'),
                                                  ('slurm_test.sh', 'test.py', 'ckpt.pth')])
def test_slurm_launchers_hand_srun_the_tasks_and_the_command(script, tool, fourth, tmp_path):
    bin_dir = tmp_path / 'bin'
    bin_dir.mkdir()
    srun = bin_dir / 'srun'
    srun.write_text(FAKE_SRUN)
    srun.chmod(0o755)
    log = tmp_path / 'srun.json'
    env = _env(SRUN_LOG=str(log), GPUS='2', SRUN_ARGS='--time=1:00:00 --qos=low')
    env['PATH'] = f'{bin_dir}{os.pathsep}{env["PATH"]}'
    proc = subprocess.run(['bash', str(TOOLS / script), 'gpu', 'vega', 'cfg.py', fourth,
                           '--cfg-options', 'a=1'], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(log.read_text())
    command = seen['args'][seen['args'].index('python'):]
    assert seen['args'][:seen['args'].index('python')] == [
        '-p', 'gpu', '--job-name=vega', '--gres=gpu:2', '--ntasks=2', '--ntasks-per-node=2',
        '--cpus-per-task=5', '--kill-on-bad-exit=1', '--time=1:00:00', '--qos=low']
    where = str(TOOLS / tool)
    if tool == 'train.py':
        assert command == ['python', '-u', where, 'cfg.py', '--work-dir', 'work',
                           '--launcher', 'slurm', '--cfg-options', 'a=1']
    else:
        assert command == ['python', '-u', where, 'cfg.py', 'ckpt.pth', '--launcher', 'slurm',
                           '--cfg-options', 'a=1']
    assert seen['pythonpath'].split(os.pathsep)[0] == f'{TOOLS}/..'
    short = subprocess.run(['bash', str(TOOLS / script), 'gpu', 'vega'], env=env,
                           capture_output=True, text=True)
    assert short.returncode == 2 and f'usage: bash tools/{script}' in short.stderr
