"""Faults during training: a kill while a checkpoint is written, resuming another run."""
import os
import subprocess
import sys

import pytest

from tests.test_tools.common import (REPO, read_results, run_tool, val_history,
                                     write_tiny_config)

TRAIN = str(REPO / 'tools' / 'train.py')

# Runs tools/train.py, killed with SIGKILL halfway through writing the checkpoint file
# named by KILL_AT (the writer is interrupted at a controlled point: after half of the
# bytes reached the temporary file).
_KILLER = '''
import os, runpy, signal, sys
import vega_mm.utils.io as io

_write_bytes = io.atomic_write_bytes


def killed_while_writing(path, data):
    if os.path.basename(path) != os.environ['KILL_AT']:
        return _write_bytes(path, data)

    def half_then_die(f):
        f.write(data[:len(data) // 2])
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return io._atomic_write(path, half_then_die)


io.atomic_write_bytes = killed_while_writing
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
'''


def test_kill_during_checkpoint_save_then_resume_matches_uninterrupted_run(tiny_run,
                                                                          tmp_path):
    part = tmp_path / 'part'
    killer = tmp_path / 'killer.py'
    killer.write_text(_KILLER)
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO), KILL_AT='epoch_3.pth')
    proc = subprocess.run([sys.executable, str(killer), TRAIN, str(tiny_run['cfg']),
                           '--work-dir', str(part)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == -9, proc.stderr[-3000:]
    # the previous checkpoint survived (max_keep_ckpts=1 used to delete it first) and
    # nothing named like a checkpoint is half-written
    assert (part / 'epoch_2.pth').exists() and not (part / 'epoch_3.pth').exists()
    assert (part / 'last_checkpoint').read_text().endswith('epoch_2.pth')
    # what an in-place writer leaves behind: a truncated newest checkpoint, named by
    # last_checkpoint; --resume falls back to the newest intact one
    data = (part / 'epoch_2.pth').read_bytes()
    (part / 'epoch_3.pth').write_bytes(data[:len(data) // 3])
    (part / 'last_checkpoint').write_text(str(part / 'epoch_3.pth'))
    proc = run_tool([TRAIN, str(tiny_run['cfg']), '--work-dir', str(part), '--resume'])
    assert 'falling back to the newest intact checkpoint' in proc.stdout + proc.stderr
    full, resumed = read_results(tiny_run['work']), read_results(part)
    assert resumed['val'] == full['val'] and resumed['test'] == full['test']
    assert [h['erc/weighted_f1'] for h in val_history(part)][-4:] == \
        [h['erc/weighted_f1'] for h in val_history(tiny_run['work'])][:4]


def test_resuming_another_runs_checkpoint_reports_only_own_files(tiny_run, tmp_path):
    other = tmp_path / 'other'
    run_tool([TRAIN, str(tiny_run['cfg']), '--work-dir', str(other), '--resume',
              str(tiny_run['work'] / 'epoch_4.pth')])
    res = read_results(other)
    assert os.path.dirname(res['best_checkpoint']) == str(other)
    assert os.path.isfile(res['best_checkpoint'])
    assert res['val'] == read_results(tiny_run['work'])['val']


def _fails(args):
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable] + args, cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode != 0, proc.stdout[-2000:]
    return proc.stderr


def test_test_tool_refuses_a_checkpoint_that_does_not_fit(tiny_run, tmp_path):
    err = _fails([str(REPO / 'tools' / 'test.py'), str(tiny_run['cfg']),
                  str(tiny_run['work'] / 'epoch_4.pth'), '--work-dir', str(tmp_path / 'w'),
                  '--cfg-options', 'model.backbone.hidden_dim=32'])
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: checkpoint '") and 'epoch_4.pth' in last
    assert 'tensors of another shape' in last and '[16' in last and 'Traceback' not in err


def test_train_tool_refuses_a_misspelt_top_level_key_before_training(tmp_path):
    cfg = write_tiny_config(tmp_path, epochs=1, extra='train_cfgg = dict(max_epochs=50)\n')
    err = _fails([TRAIN, str(cfg), '--work-dir', str(tmp_path / 'work')])
    assert "error: " in err and "'train_cfgg' (did you mean 'train_cfg'?)" in err
    assert not (tmp_path / 'work' / 'epoch_1.pth').exists()
