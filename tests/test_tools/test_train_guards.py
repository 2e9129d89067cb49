"""tools/train.py refuses what would waste or corrupt a run, at once and in one line: a
work dir another run is writing, a missing or broken config, a data file that is not
where the config says; Ctrl-C says how to resume."""
import os
import signal
import subprocess
import sys

import pytest

from tests.test_tools.common import REPO, load_tool, read_results, write_tiny_config

TRAIN = str(REPO / 'tools' / 'train.py')
ENV = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))


def _train(args, cwd=REPO):
    return subprocess.run([sys.executable, TRAIN] + [str(a) for a in args], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=600)


def _one_error_line(proc) -> str:
    assert proc.returncode != 0, proc.stdout[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith('error: '), proc.stderr[-3000:]
    return lines[0]


def _hold_lock(work):
    """A process that holds the work dir's lock until killed."""
    code = ('import sys, time; from vega_mm.utils.cli import WorkDirLock; '
            f'WorkDirLock({str(work)!r}).acquire(); print("locked", flush=True); '
            'time.sleep(600)')
    holder = subprocess.Popen([sys.executable, '-c', code], env=ENV, stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout.readline().strip() == 'locked'
    return holder


def test_a_work_dir_in_use_is_refused_and_a_killed_holder_leaves_no_stale_lock(tmp_path):
    cfg = write_tiny_config(tmp_path, epochs=1)
    work = tmp_path / 'work'
    holder = _hold_lock(work)
    try:
        line = _one_error_line(_train([cfg, '--work-dir', work]))
        assert str(work) in line and f'pid {holder.pid}' in line and 'in use' in line
        assert not (work / 'epoch_1.pth').exists()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    proc = _train([cfg, '--work-dir', work])  # the OS released the dead holder's lock
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert read_results(work)['best_checkpoint']
    proc = _train([cfg, '--work-dir', work, '--resume', '--cfg-options',
                   'train_cfg.max_epochs=2'])  # the finished run's lock is gone too
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (work / 'epoch_2.pth').exists()


def _imports_after(args, cwd=REPO):
    """Run train.py in a fresh interpreter; its error and whether torch got imported."""
    code = ('import runpy, sys\n'
            f'sys.argv = {[TRAIN] + [str(a) for a in args]!r}\n'
            'try:\n'
            f'    runpy.run_path({TRAIN!r}, run_name="__main__")\n'
            'except SystemExit as exc:\n'
            '    print(exc)\n'
            'print("torch imported:", "torch" in sys.modules)\n')
    proc = subprocess.run([sys.executable, '-c', code], cwd=cwd, env=ENV,
                          capture_output=True, text=True, timeout=300)
    return proc.stdout.strip().splitlines()


def test_a_misspelt_config_path_fails_before_torch_is_imported(tmp_path):
    line = _one_error_line(_train(['configs/vega/vega_synthetc.py']))
    assert "config file 'configs/vega/vega_synthetc.py' does not exist" in line
    assert "did you mean 'configs/vega/vega_synthetic.py'?" in line
    out = _imports_after(['configs/vega/vega_synthetc.py'])
    assert out[-1] == 'torch imported: False', out


def test_a_config_with_a_syntax_error_is_named_with_its_line(tmp_path):
    cfg = write_tiny_config(tmp_path, epochs=1, extra='train_cfg = dict(max_epochs=(3)\n')
    line = _one_error_line(_train([cfg, '--work-dir', tmp_path / 'work']))
    assert str(cfg) in line and "'(' was never closed" in line and 'line' in line
    assert _imports_after([cfg, '--work-dir', tmp_path / 'work'])[-1] == \
        'torch imported: False'


def test_a_relative_data_path_from_another_folder_is_named_with_the_folder(tmp_path):
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    line = _one_error_line(_train([REPO / 'configs' / 'vega' / 'vega_iemocap.py',
                                   '--work-dir', tmp_path / 'work'], cwd=elsewhere))
    assert 'train_dataloader.dataset' in line
    assert "'data/iemocap/iemocap_multimodal_features.pkl' does not exist" in line
    assert str(elsewhere) in line and 'working directory' in line


def test_ctrl_c_prints_the_resume_command_and_exits_130(tmp_path, monkeypatch, capsys):
    tool = load_tool('tools/train.py')
    cfg = write_tiny_config(tmp_path, epochs=1)
    argv = ['tools/train.py', str(cfg), '--work-dir', str(tmp_path / 'work')]
    monkeypatch.setattr(sys, 'argv', argv)

    def interrupted(cfg, args):
        raise KeyboardInterrupt

    monkeypatch.setattr(tool, 'train', interrupted)
    with pytest.raises(SystemExit) as info:
        tool.main()
    assert info.value.code == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f'interrupted; resume with: python {" ".join(argv)} --resume']
    # the lock went with the run
    from vega_mm.utils.cli import WorkDirLock
    WorkDirLock(str(tmp_path / 'work')).acquire().release()


def test_the_test_tool_names_a_misspelt_config_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO / 'tools' / 'test.py'),
                           'configs/vega/vega_synthetc.py', str(tmp_path / 'x.pth')],
                          cwd=REPO, env=ENV, capture_output=True, text=True, timeout=300)
    line = _one_error_line(proc)
    assert "config file 'configs/vega/vega_synthetc.py' does not exist" in line


def _as_in_a_terminal() -> None:
    """SIGINT as a shell gives it to a command: default handling and not blocked.  A
    child inherits both from this test process, where a library loaded by an earlier
    test may have blocked or ignored it (the run then trained on and exited 0)."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGINT])
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_in_a_real_run_prints_one_line_and_exits_130(tmp_path):
    cfg = write_tiny_config(tmp_path, epochs=50)
    work = tmp_path / 'work'
    proc = subprocess.Popen([sys.executable, TRAIN, str(cfg), '--work-dir', str(work)],
                            cwd=REPO, env=dict(ENV, PYTHONUNBUFFERED='1'),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_as_in_a_terminal)
    try:
        started = False
        for line in proc.stdout:  # training has started: the first logged iteration
            if 'Epoch(train)' in line:
                started = True
                break
        assert started and proc.poll() is None, 'the run ended before it could be interrupted'
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=300)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-3000:]
    assert err.strip().splitlines() == [
        f'interrupted; resume with: python {TRAIN} {cfg} --work-dir {work} --resume']


def test_a_finished_run_is_refused_unless_resume_or_overwrite(tmp_path):
    """A second run into a finished run's work dir would leave the old best checkpoint
    beside the new one (issue 35, item 3)."""
    cfg = write_tiny_config(tmp_path, epochs=2)
    work = tmp_path / 'work'
    assert _train([cfg, '--work-dir', work, '--no-test']).returncode == 0
    (work / 'results.json').write_text('{}')  # as a finished, tested run leaves it
    old = sorted(p.name for p in work.glob('*.pth'))
    assert old
    line = _one_error_line(_train([cfg, '--work-dir', work, '--no-test', '--cfg-options',
                                   'train_cfg.max_epochs=1']))
    assert 'holds a finished run' in line and '--resume' in line and '--overwrite' in line
    assert sorted(p.name for p in work.glob('*.pth')) == old  # nothing touched
    proc = _train([cfg, '--work-dir', work, '--overwrite', '--cfg-options',
                   'train_cfg.max_epochs=1'])
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert not (work / 'epoch_2.pth').exists()  # the old run's files are gone
    best = [p.name for p in work.glob('best_*.pth')]
    assert len(best) == 1 and best[0].endswith('epoch_1.pth'), best
    assert read_results(work)['best_checkpoint'].endswith('epoch_1.pth')


def test_earlier_run_files_and_the_refusal_without_training(tmp_path):
    from vega_mm.utils.cli import clear_or_refuse_earlier_run, earlier_run_files
    work = tmp_path / 'work'
    assert clear_or_refuse_earlier_run(str(work), False, False) == []  # no dir yet
    work.mkdir()
    (work / 'train.lock').write_text('1')
    (work / '20260101_000000').mkdir()
    assert clear_or_refuse_earlier_run(str(work), False, False) == []  # no run in it
    (work / 'epoch_1.pth').write_bytes(b'x')
    (work / 'last_checkpoint').write_text(str(work / 'epoch_1.pth'))
    with pytest.raises(ValueError, match='holds an earlier run'):
        clear_or_refuse_earlier_run(str(work), False, False)
    assert clear_or_refuse_earlier_run(str(work), True, False) == []  # --resume
    assert len(earlier_run_files(str(work))) == 2
    assert len(clear_or_refuse_earlier_run(str(work), False, True)) == 2  # --overwrite
    assert earlier_run_files(str(work)) == [] and (work / '20260101_000000').is_dir()


def test_overwrite_and_resume_together_are_refused(tmp_path):
    proc = _train([write_tiny_config(tmp_path, epochs=1), '--resume', '--overwrite'])
    assert proc.returncode == 2 and '--overwrite deletes the run' in proc.stderr


def test_a_misspelt_backbone_key_is_one_line_even_where_the_check_imports_mmpretrain(
        tmp_path):
    """Checking ``model.backbone.*`` keys looks the type up in the registries, which
    imports mmpretrain's models; mmcv-lite's warning must not come before the error."""
    line = _one_error_line(_train(['configs/dialoguegcn/dialoguegcn_synthetic.py',
                                   '--work-dir', tmp_path / 'work', '--cfg-options',
                                   'model.backbone.num_speakerz=3']))
    assert "takes no argument 'num_speakerz'" in line
    assert 'did you mean model.backbone.num_speakers?' in line
