"""ResumableEarlyStoppingHook in real training runs of the tiny synthetic VEGA: a run
whose validation metric stops improving stops after ``patience`` validations, and a
resumed run continues with the counter and best score of the checkpoint."""
import shutil

import pytest
import torch
from mmengine.config import Config

from tests.test_tools.common import write_tiny_config
from vega_mm.engine import ResumableEarlyStoppingHook, build_runner

# A plateau: with a zero learning rate the weights, hence the validation metric, never
# change, so every validation after the first is one without improvement.
PLATEAU = 'optim_wrapper = dict(optimizer=dict(lr=0.0))\n'
PATIENCE = 2


def _runner(folder, name: str, epochs: int, work=None, resume: bool = False):
    folder = folder / name
    folder.mkdir()
    cfg = Config.fromfile(str(write_tiny_config(folder, epochs=epochs, extra=PLATEAU)))
    cfg.work_dir = str(work or folder / 'work')
    cfg.experiment_name = name
    cfg.default_hooks.early_stopping.patience = PATIENCE
    cfg.resume = resume
    return build_runner(cfg)


def _early_stopping(runner) -> ResumableEarlyStoppingHook:
    return next(h for h in runner.hooks if isinstance(h, ResumableEarlyStoppingHook))


@pytest.fixture(scope='module')
def runs(tmp_path_factory):
    """A run on a plateau with room for 10 epochs, and the same run stopped after 2."""
    root = tmp_path_factory.mktemp('early_stopping')
    full = _runner(root, 'full', epochs=10)
    full.train()
    part = _runner(root, 'part', epochs=2)
    part.train()
    return dict(root=root, full=full, part_work=root / 'part' / 'work')


def test_a_plateau_stops_the_run_after_patience_validations(runs):
    full = runs['full']
    # epoch 1 sets the best score; epochs 2 and 3 do not improve it: stop after epoch 3
    assert full.epoch == 1 + PATIENCE
    assert not (runs['root'] / 'full' / 'work' / f'epoch_{full.epoch + 1}.pth').exists()
    hook = _early_stopping(full)
    assert hook.wait_count == PATIENCE
    assert hook.best_score == full.message_hub.get_info('best_score')  # epoch 1's score
    meta = torch.load(str(runs['root'] / 'full' / 'work' / f'epoch_{full.epoch}.pth'),
                      map_location='cpu', weights_only=False)['meta']
    assert meta['early_stopping']['best_score'] == hook.best_score


def test_a_resumed_run_starts_from_the_checkpoints_counter_and_best_score(runs, tmp_path):
    resumed = _runner(tmp_path, 'resumed', epochs=10, work=runs['part_work'], resume=True)
    hook = _early_stopping(resumed)
    assert (hook.wait_count, hook.best_score) == (0, float('-inf'))  # not loaded yet
    resumed.load_or_resume()
    assert resumed.epoch == 2
    # the best score of the interrupted run, not the -inf of a fresh hook (which would
    # count the next validation as an improvement and train PATIENCE epochs more)
    assert hook.best_score == _early_stopping(runs['full']).best_score


def test_an_interrupted_run_resumed_stops_where_the_uninterrupted_one_does(runs, tmp_path):
    work = shutil.copytree(runs['part_work'], tmp_path / 'work')
    resumed = _runner(tmp_path, 'resumed', epochs=10, work=work, resume=True)
    resumed.train()
    full = runs['full']
    assert resumed.epoch == full.epoch == 1 + PATIENCE
    hook, full_hook = _early_stopping(resumed), _early_stopping(full)
    assert (hook.wait_count, hook.best_score) == (full_hook.wait_count, full_hook.best_score)


def test_the_state_goes_into_the_checkpoint_and_comes_back():
    hook = ResumableEarlyStoppingHook(monitor='erc/weighted_f1', rule='greater', patience=5)
    hook.wait_count, hook.best_score = 3, 61.5
    ckpt = {'meta': {}}
    hook.before_save_checkpoint(None, ckpt)
    fresh = ResumableEarlyStoppingHook(monitor='erc/weighted_f1', rule='greater', patience=5)
    fresh.after_load_checkpoint(None, {'meta': {}})  # an older checkpoint: nothing to load
    assert (fresh.wait_count, fresh.best_score) == (0, float('-inf'))
    fresh.after_load_checkpoint(None, ckpt)
    assert (fresh.wait_count, fresh.best_score) == (3, 61.5)
