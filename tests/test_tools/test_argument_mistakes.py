"""Mistakes with the tools' positional arguments give one line naming which argument is
which, before anything is loaded (issue 35, item 6)."""
import os
import subprocess
import sys

import pytest

from tests.test_tools.common import REPO
from vega_mm.utils.cli import check_config_and_checkpoint

ENV = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
CONFIG = 'configs/vega/vega_synthetic.py'


def _error_line(args) -> str:
    proc = subprocess.run([sys.executable] + args, cwd=REPO, env=ENV, capture_output=True,
                          text=True, timeout=300)
    lines = [ln for ln in proc.stderr.strip().splitlines() if 'Warning' not in ln and
             not ln.startswith('  warnings.warn')]
    assert proc.returncode != 0, proc.stdout[-2000:]
    assert len(lines) == 1 and lines[0].startswith('error: '), proc.stderr[-3000:]
    return lines[0]


@pytest.mark.parametrize('tool,extra', [('tools/test.py', []),
                                        ('tools/infer.py', ['dialogues.csv'])])
def test_swapped_config_and_checkpoint_are_named(tool, extra, tmp_path):
    ckpt = str(tmp_path / 'epoch_3.pth')
    line = _error_line([tool, ckpt, CONFIG] + extra)
    assert 'the config and the checkpoint are swapped' in line
    assert f'{tool} {CONFIG} {ckpt}' in line  # the command in the right order


def test_other_config_and_checkpoint_mistakes():
    with pytest.raises(ValueError, match="CHECKPOINT 'b.py' is a config file"):
        check_config_and_checkpoint('a.py', 'b.py', 'tools/test.py')
    with pytest.raises(ValueError, match="CONFIG 'a.txt' is not a config file"):
        check_config_and_checkpoint('a.txt', 'b.pth', 'tools/test.py')
    check_config_and_checkpoint('a.py', 'b.pth', 'tools/test.py')
    check_config_and_checkpoint('a.yaml', 'best', 'tools/test.py')  # any checkpoint name


def test_infer_names_a_missing_input_before_loading_the_model(tmp_path):
    """The input is checked first: the checkpoint here does not exist either, and is
    never reached."""
    line = _error_line(['tools/infer.py', CONFIG, str(tmp_path / 'model.pth'),
                        str(tmp_path / 'dialogues.csv')])
    assert line == (f"error: INPUT (a conversation table or a feature file) "
                    f"{str(tmp_path / 'dialogues.csv')!r} does not exist")
