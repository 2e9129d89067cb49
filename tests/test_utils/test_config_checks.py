"""check_config: a config that would give an untrustworthy run fails before training."""
from pathlib import Path

import pytest
from mmengine.config import Config

from vega_mm.utils import ConfigError, apply_modalities, check_config

CONFIGS = Path(__file__).parents[2] / 'configs'


@pytest.fixture
def cfg():
    return Config.fromfile(str(CONFIGS / 'vega' / 'vega_synthetic.py'))


@pytest.mark.parametrize('path', sorted(p for p in CONFIGS.rglob('*.py')
                                        if '_base_' not in p.parts),
                         ids=lambda p: p.name)
def test_every_shipped_config_passes(path):
    check_config(Config.fromfile(str(path)))


def test_unread_key_is_named_with_the_closest_known_key(cfg):
    cfg.train_cfgg = dict(max_epochs=3)
    with pytest.raises(ConfigError, match=r"'train_cfgg' \(did you mean 'train_cfg'\?\)"):
        check_config(cfg)


def test_helper_variables_are_fine_when_used_or_private(cfg):
    cfg._scratch = 123            # private helper
    cfg.my_root = 'data/x'        # used below: a variable
    cfg.val_dataloader.dataset.some_path = 'data/x/val.npz'
    check_config(cfg)
    cfg.unused_var = 'data/elsewhere'
    with pytest.raises(ConfigError, match="'unused_var'"):
        check_config(cfg)


def test_train_pipeline_edited_after_the_dataloaders_copied_it_is_unread(cfg):
    # a child config that edits the helper, not the dataloader, changes nothing
    cfg.train_pipeline = [dict(type='PackConversationInputs', extra=1)]
    with pytest.raises(ConfigError, match="'train_pipeline'"):
        check_config(cfg)


@pytest.mark.parametrize('value', [0, -1, 2.5])
def test_max_epochs_must_be_a_positive_integer(cfg, value):
    cfg.train_cfg.max_epochs = value
    with pytest.raises(ConfigError, match=rf'train_cfg.max_epochs={value}: expected an '
                       'integer >= 1'):
        check_config(cfg)


def test_save_best_and_monitor_must_be_metrics_the_evaluator_reports(cfg):
    check_config(cfg)
    cfg.default_hooks.checkpoint.save_best = 'erc/f1_happy'  # a class of the dataset
    check_config(cfg)
    cfg.default_hooks.checkpoint.save_best = 'erc/weighted_f'
    with pytest.raises(ConfigError, match="save_best='erc/weighted_f': ERCMetric never "
                       "reports 'weighted_f'"):
        check_config(cfg)
    cfg.default_hooks.checkpoint.save_best = 'accuracy/top1'
    with pytest.raises(ConfigError, match="no metric with prefix 'accuracy'"):
        check_config(cfg)
    cfg.default_hooks.checkpoint.save_best = 'erc/weighted_f1'
    cfg.default_hooks.early_stopping.monitor = 'erc/acc'
    with pytest.raises(ConfigError, match=r"default_hooks.early_stopping.monitor='erc/acc'"):
        check_config(cfg)


def test_work_dir_that_is_a_file_is_refused(cfg, tmp_path):
    (tmp_path / 'f').write_text('x')
    cfg.work_dir = str(tmp_path / 'f')
    with pytest.raises(ConfigError, match='is a file; expected a folder'):
        check_config(cfg)


def test_checked_config_still_takes_its_modalities(cfg):
    cfg.modalities = ('text', )
    out = apply_modalities(check_config(cfg))
    assert out.model.modalities == ('text', )


def test_base_helper_variables_a_child_bypasses_are_not_errors(tmp_path):
    (tmp_path / 'base.py').write_text(
        f"_base_ = {str(CONFIGS / 'vega' / 'vega_synthetic.py')!r}\n"
        "data_root = 'data/x/'\n"
        "train_dataloader = dict(dataset=dict(seed=data_root and 1))\n")
    (tmp_path / 'child.py').write_text(
        "_base_ = './base.py'\ntrain_dataloader = dict(dataset=dict(seed=3))\n")
    check_config(Config.fromfile(str(tmp_path / 'child.py')))  # data_root: the base's
    (tmp_path / 'child.py').write_text("_base_ = './base.py'\nval_cfgg = dict()\n")
    with pytest.raises(ConfigError, match="'val_cfgg'"):
        check_config(Config.fromfile(str(tmp_path / 'child.py')))


def test_a_config_dumped_into_a_work_dir_passes(tmp_path):
    """The Runner dumps the config after the modalities were applied: the pipeline
    variables then lack the ``modalities`` their datasets' copies carry."""
    cfg = apply_modalities(Config.fromfile(str(CONFIGS / 'sdt' / 'sdt_synthetic.py')))
    dumped = tmp_path / 'sdt_synthetic.py'
    cfg.dump(str(dumped))
    check_config(Config.fromfile(str(dumped)))
    # a typo in a dumped config is still caught
    text = dumped.read_text().replace('train_cfg = ', 'train_cfgg = ', 1)
    dumped.write_text(text)
    with pytest.raises(ConfigError, match='train_cfgg'):
        check_config(Config.fromfile(str(dumped)))
