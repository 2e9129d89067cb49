"""check_config: a config that would give an untrustworthy run fails before training,
and a config it passes builds: every shipped model, and for the synthetic configs the
runner, one training step and a validation pass reporting the monitored metrics."""
import math
from pathlib import Path
from typing import Sequence

import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import Runner

from vega_mm.utils import ConfigError, apply_modalities, check_config

CONFIGS = Path(__file__).parents[2] / 'configs'
SHIPPED = sorted(p for p in CONFIGS.rglob('*.py') if '_base_' not in p.parts)
SYNTHETIC = sorted(p for p in SHIPPED if p.stem.endswith('_synthetic'))


@pytest.fixture
def cfg():
    return Config.fromfile(str(CONFIGS / 'vega' / 'vega_synthetic.py'))


def _stand_in_anchor_files(node, classes: Sequence[str], root: Path) -> None:
    """Write a random anchor file (5 exemplars per class, 512-d unless the bank says
    otherwise) wherever the model config names one, relative to ``root``: the shipped
    configs point at files the user builds (data/anchors/*.pt)."""
    from vega_mm.anchors import canonical_emotion, save_anchor_file
    if isinstance(node, (list, tuple)):
        for item in node:
            _stand_in_anchor_files(item, classes, root)
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key in ('anchor_file', 'anchors') and isinstance(value, str):
            mapping = node.get('class_mapping') or {}
            # one name per class: 'frustration' -> 'angry' is IEMOCAP's 'anger'
            names = {}
            for c in classes:
                names.setdefault(canonical_emotion(mapping.get(c, c)), mapping.get(c, c))
            names = list(names.values())
            gen = torch.Generator().manual_seed(0)
            save_anchor_file(str(root / value), names,
                             [torch.randn(5, int(node.get('dim', 512)), generator=gen)
                              for _ in names])
        else:
            _stand_in_anchor_files(value, classes, root)


def _build_model(cfg: Config):
    """The model as the runner builds it: the checked config, modalities applied."""
    from vega_mm.registry import MODELS
    cfg = apply_modalities(check_config(cfg))
    init_default_scope(cfg.get('default_scope', 'vega_mm'))
    return MODELS.build(cfg.model)


@pytest.mark.parametrize('path', SHIPPED, ids=lambda p: p.name)
def test_every_shipped_config_passes_and_builds_its_model(path, tmp_path, monkeypatch):
    cfg = Config.fromfile(str(path))
    monkeypatch.chdir(tmp_path)  # the configs' relative data paths, filled with stand-ins
    _stand_in_anchor_files(cfg.model, cfg.classes, tmp_path)
    model = _build_model(cfg)
    assert sum(p.numel() for p in model.parameters()) > 0
    if cfg.get('modalities') is not None:
        assert tuple(model.modalities) == tuple(cfg.modalities)


def _small(cfg: Config, work_dir: Path) -> Config:
    cfg.work_dir = str(work_dir)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.num_dialogues = (18, 8, 8)
    return cfg


def _one_step_and_validation(cfg: Config) -> dict:
    """Build the runner (the tools' path: check, modalities, build), take one optimiser
    step on a training batch and evaluate the validation split; returns the metrics."""
    from vega_mm.engine import build_runner
    runner = build_runner(cfg)
    optim_wrapper = runner.build_optim_wrapper(runner.cfg.optim_wrapper)
    batch = next(iter(Runner.build_dataloader(runner.cfg.train_dataloader, seed=0)))
    runner.model.train()
    log_vars = runner.model.train_step(batch, optim_wrapper)
    assert log_vars and all(math.isfinite(float(torch.as_tensor(v).detach()))
                            for v in log_vars.values()), log_vars
    val_loader = Runner.build_dataloader(runner.cfg.val_dataloader, seed=0)
    evaluator = runner.build_evaluator(runner.cfg.val_evaluator)
    evaluator.dataset_meta = val_loader.dataset.metainfo
    runner.model.eval()
    for batch in val_loader:
        evaluator.process(runner.model.val_step(batch), batch)
    return evaluator.evaluate(len(val_loader.dataset))


@pytest.mark.parametrize('path', SYNTHETIC, ids=lambda p: p.name)
def test_synthetic_configs_train_a_step_and_report_what_they_monitor(path, tmp_path):
    cfg = _small(Config.fromfile(str(path)), tmp_path / 'work')
    metrics = _one_step_and_validation(cfg)
    # the metrics check_config accepted statically are the ones the evaluator reports
    hooks = cfg.default_hooks
    assert hooks.checkpoint.save_best in metrics, sorted(metrics)
    assert hooks.early_stopping.monitor in metrics, sorted(metrics)
    assert 'erc/f1_happy' in metrics  # a class name, as check_config accepts


def test_a_config_that_passes_the_checks_but_cannot_be_built_fails_at_build():
    cfg = Config.fromfile(str(CONFIGS / 'baselines' / 'bclstm_synthetic.py'))
    cfg.model.backbone.hidden_dim = 15  # the bidirectional LSTM needs an even size
    check_config(cfg)
    with pytest.raises(Exception, match='must be even'):
        _build_model(cfg)


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


def test_checked_config_still_takes_its_modalities(cfg, tmp_path):
    cfg.modalities = ('text', )
    out = apply_modalities(check_config(Config(cfg.to_dict(), filename=cfg.filename)))
    assert out.model.modalities == ('text', )
    # built: a text-only model on text-only batches, trained and validated
    model = _build_model(Config(cfg.to_dict(), filename=cfg.filename))
    assert tuple(model.modalities) == ('text', )
    metrics = _one_step_and_validation(_small(cfg, tmp_path / 'work'))
    assert 'erc/weighted_f1_text' in metrics and 'erc/weighted_f1_audio' not in metrics


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


def test_overrides_of_the_datasets_paths_pass_and_typos_still_fail(tmp_path, monkeypatch):
    """``--cfg-options train_dataloader.dataset.data_root=X`` (merged as tools/train.py
    merges it) leaves the file's own ``data_root`` behind: that is not a typo."""
    monkeypatch.chdir(CONFIGS.parent)  # the config path relative, as a user types it
    for name in ('configs/vega/vega_iemocap.py', str(CONFIGS / 'vega' / 'vega_meld.py')):
        cfg = Config.fromfile(name)
        cfg.merge_from_dict({f'{k}.dataset.{f}': f'/elsewhere/{f}' for f in
                             ('data_root', 'ann_file') for k in
                             ('train_dataloader', 'val_dataloader', 'test_dataloader')})
        check_config(cfg)
        typo = Config.fromfile(name)
        typo.merge_from_dict({'train_cfgg.max_epochs': 3})
        with pytest.raises(ConfigError, match="'train_cfgg'"):
            check_config(typo)
        # a top-level helper overridden after the datasets copied it changes nothing
        ignored = Config.fromfile(name)
        ignored.merge_from_dict({'data_root': '/elsewhere/'})
        with pytest.raises(ConfigError, match="'data_root'"):
            check_config(ignored)
