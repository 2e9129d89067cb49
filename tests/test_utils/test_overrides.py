"""--cfg-options are checked before anything is built: a config-file variable such as
``data_root`` (read only while the file is parsed) is refused with the keys to set
instead, and a misspelt nested key gets a "did you mean" from the arguments of the class
it configures (issue 35, items 2 and 7)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vega_mm.utils.cli import load_config
from vega_mm.utils.config import ConfigError, check_overrides, merge_overrides

REPO = Path(__file__).parents[2]
SYNTHETIC = str(REPO / 'configs' / 'vega' / 'vega_synthetic.py')


@pytest.mark.parametrize('name', ['vega_iemocap.py', 'vega_meld_text.py'])
def test_a_data_root_override_is_refused_naming_every_loader_key(name):
    with pytest.raises(ConfigError) as info:
        load_config(str(REPO / 'configs' / 'vega' / name), {'data_root': '/my/data/'})
    msg = str(info.value)
    assert "'data_root' is a variable of" in msg and 'changes nothing' in msg
    for loader in ('train', 'val', 'test'):
        assert f'{loader}_dataloader.dataset.data_root=/my/data/' in msg


def test_the_keys_the_refusal_names_are_accepted_and_take_effect():
    options = {f'{k}_dataloader.dataset.data_root': '/my/data/' for k in ('train', 'val',
                                                                         'test')}
    cfg = load_config(str(REPO / 'configs' / 'vega' / 'vega_iemocap.py'), options)
    assert {cfg[f'{k}_dataloader'].dataset.data_root for k in ('train', 'val', 'test')} \
        == {'/my/data/'}


def test_a_private_helper_override_names_the_keys_it_fed():
    with pytest.raises(ConfigError, match=r'train_dataloader\.dataset\.seed=7'):
        load_config(SYNTHETIC, {'_data.seed': 7})


@pytest.mark.parametrize('key,suggestion', [
    ('train_cfg.max_epoch', 'train_cfg.max_epochs'),
    ('model.backbone.casual', 'model.backbone.causal'),
    ('model.backbon.causal', 'model.backbone'),
    ('optim_wrapper.optimizer.lrr', 'optim_wrapper.optimizer.lr'),
    ('default_hooks.early_stopping.patiense', 'default_hooks.early_stopping.patience'),
])
def test_a_misspelt_nested_key_gets_did_you_mean(key, suggestion):
    with pytest.raises(ConfigError, match=f'did you mean {suggestion}\\?'):
        load_config(SYNTHETIC, {key: 3})


def test_a_misspelt_top_level_key_gets_did_you_mean():
    with pytest.raises(ConfigError, match="did you mean 'train_cfg'"):
        load_config(SYNTHETIC, {'train_cfgg.max_epochs': 3})


def test_real_keys_new_or_existing_are_merged():
    cfg = load_config(SYNTHETIC, {
        'train_cfg.max_epochs': 3, 'train_cfg.val_begin': 2, 'model.backbone.causal': True,
        'model.backbone.attention_window': 4, 'optim_wrapper.optimizer.lr': 0.5,
        'randomness.seed': 1, 'load_from': 'x.pth', 'model.class_weight': [1.0] * 6})
    assert cfg.train_cfg.max_epochs == 3 and cfg.train_cfg.val_begin == 2
    assert cfg.model.backbone.causal is True and cfg.load_from == 'x.pth'
    merge_overrides(cfg, None)  # nothing to merge: nothing checked
    check_overrides(cfg, {})


def test_train_tool_refuses_both_in_one_line_before_building():
    env = dict(os.environ, OMP_NUM_THREADS='1', PYTHONPATH=str(REPO))
    for options, expected in ((['data_root=/my/data/'], 'train_dataloader.dataset.data_root'),
                              (['train_cfg.max_epoch=3'], 'did you mean train_cfg.max_epochs')):
        proc = subprocess.run(
            [sys.executable, str(REPO / 'tools' / 'train.py'),
             str(REPO / 'configs' / 'vega' / 'vega_iemocap.py'), '--cfg-options'] + options,
            cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        lines = proc.stderr.strip().splitlines()
        assert proc.returncode != 0 and lines[-1].startswith('error: '), proc.stderr[-2000:]
        assert expected in lines[-1]
        assert not [ln for ln in lines if 'Traceback' in ln], proc.stderr[-2000:]


def test_init_model_checks_its_overrides_before_building():
    from vega_mm.apis import init_model
    with pytest.raises(ConfigError, match='did you mean model.backbone.causal'):
        init_model(SYNTHETIC, None, cfg_options={'model.backbone.casual': True})
