"""ConversationRunner: config checks, strict and finite checkpoints, resume fallback."""
import pytest
import torch
from mmengine.config import Config

from tests.test_tools.common import write_tiny_config
from vega_mm.engine import build_runner
from vega_mm.utils.checkpoint import CheckpointError
from vega_mm.utils.config import ConfigError


@pytest.fixture
def tiny_cfg(tmp_path):
    cfg = Config.fromfile(str(write_tiny_config(tmp_path, epochs=1)))
    cfg.work_dir = str(tmp_path / 'work')
    return cfg


def _save_state(runner, path, change=None):
    state = {k: v.clone() for k, v in runner.model.state_dict().items()}
    if change:
        change(state)
    torch.save(dict(state_dict=state, meta=dict(epoch=1, iter=3)), path)
    return state


def test_unread_top_level_key_fails_before_anything_is_built(tiny_cfg):
    tiny_cfg.train_cfgg = dict(max_epochs=5)
    with pytest.raises(ConfigError, match=r"'train_cfgg' \(did you mean 'train_cfg'\?\)"):
        build_runner(tiny_cfg)


def test_every_run_stops_at_non_finite_losses(tiny_cfg):
    runner = build_runner(tiny_cfg)
    assert 'NonFiniteCheckHook' in [type(h).__name__ for h in runner.hooks]
    assert 'AtomicCheckpointHook' in [type(h).__name__ for h in runner.hooks]


def test_checkpoint_that_does_not_fit_names_keys_and_shapes(tiny_cfg, tmp_path):
    runner = build_runner(tiny_cfg)
    name = 'backbone.input_proj.text.weight'
    state = runner.model.state_dict()
    if name not in state:  # whatever the first 2-d weight is called today
        name = next(k for k, v in state.items() if v.dim() == 2)

    def widen(s):
        s[name] = torch.zeros(s[name].shape[0] + 1, *s[name].shape[1:])
        s['extra.weight'] = torch.zeros(2)
    path = tmp_path / 'other.pth'
    _save_state(runner, path, widen)
    with pytest.raises(CheckpointError) as info:
        runner.load_checkpoint(str(path))
    message = str(info.value)
    assert str(path) in message and name in message
    assert '1 tensors of another shape' in message and 'extra.weight' in message


def test_checkpoint_with_nan_weights_is_refused(tiny_cfg, tmp_path):
    runner = build_runner(tiny_cfg)
    name = next(k for k, v in runner.model.state_dict().items() if v.is_floating_point())

    def poison(s):
        s[name] = s[name].clone()
        s[name].view(-1)[0] = float('nan')
    path = tmp_path / 'nan.pth'
    _save_state(runner, path, poison)
    expected = rf"nan.pth' holds non-finite weights: {name} \(1 NaN"
    with pytest.raises(CheckpointError, match=expected):
        runner.load_checkpoint(str(path))
    # a clean copy of the same model loads
    _save_state(runner, tmp_path / 'ok.pth')
    runner.load_checkpoint(str(tmp_path / 'ok.pth'))


@pytest.mark.parametrize('content', [b'', b'not a checkpoint at all'])
def test_explicit_resume_from_a_broken_file_names_it(tiny_cfg, tmp_path, content):
    path = tmp_path / 'epoch_1.pth'
    path.write_bytes(content)
    tiny_cfg.resume, tiny_cfg.load_from = True, str(path)
    runner = build_runner(tiny_cfg)
    with pytest.raises(CheckpointError, match=rf'--resume: checkpoint .*epoch_1\.pth.* is'):
        runner.load_or_resume()


def test_auto_resume_falls_back_to_newest_intact_checkpoint(tiny_cfg, tmp_path):
    runner = build_runner(tiny_cfg)
    work = tmp_path / 'work'
    good = work / 'epoch_1.pth'
    _save_state(runner, good)
    data = good.read_bytes()
    (work / 'epoch_2.pth').write_bytes(data[:len(data) // 2])  # killed mid-write
    (work / 'last_checkpoint').write_text(str(work / 'epoch_2.pth'))
    tiny_cfg.resume = True
    resumed = []
    runner = build_runner(tiny_cfg)
    runner.resume = lambda path, **kw: resumed.append(path)
    runner.load_or_resume()
    assert resumed == [str(good)]


def test_auto_resume_without_any_intact_checkpoint_is_an_error(tiny_cfg, tmp_path):
    work = tmp_path / 'work'
    work.mkdir()
    (work / 'epoch_1.pth').write_bytes(b'PK\x03\x04 truncated')
    tiny_cfg.resume = True
    runner = build_runner(tiny_cfg)
    with pytest.raises(CheckpointError, match='no intact checkpoint'):
        runner.load_or_resume()


def test_nan_loss_stops_training_before_any_checkpoint(tiny_cfg, tmp_path):
    runner = build_runner(tiny_cfg)

    def poison(module, args, kwargs):  # one NaN feature in the first batch
        if kwargs.get('mode') == 'loss':
            kwargs['inputs']['feats']['text'][0, 0, 0] = float('nan')
    runner.model.register_forward_pre_hook(poison, with_kwargs=True)
    with pytest.raises(FloatingPointError, match=r'non-finite loss at epoch 1, iteration 1 '
                       r'\(batch 1 of the epoch\): loss_'):
        runner.train()
    assert not list((tmp_path / 'work').glob('*.pth'))


def test_configs_of_earlier_versions_get_the_conversation_collate(tiny_cfg):
    from vega_mm.engine.runner import conversation_collate_fn
    # a run's config dumped before the one collate names pseudo_collate: it still runs
    tiny_cfg.train_dataloader.collate_fn = dict(type='pseudo_collate')
    runner = build_runner(tiny_cfg)
    batch = next(iter(runner.build_dataloader(runner._train_dataloader)))
    assert batch['inputs']['mask'].dtype == torch.bool
    loader = dict(batch_size=2, dataset=dict(type='SyntheticConversationDataset'))
    cfg = Config(dict(model=dict(type='ConversationClassifier'),
                      train_dataloader=dict(loader, collate_fn=dict(type='pseudo_collate')),
                      val_dataloader=dict(loader),  # MMEngine's default collate
                      test_dataloader=dict(loader, collate_fn=dict(
                          type='vega_mm.conversation_collate'))))
    conversation_collate_fn(cfg)
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        assert cfg[key].collate_fn == dict(type='vega_mm.conversation_collate'), key
    # a model of another library keeps its own collate
    other = Config(dict(model=dict(type='ImageClassifier'),
                        train_dataloader=dict(loader, collate_fn=dict(type='pseudo_collate'))))
    conversation_collate_fn(other)
    assert other.train_dataloader.collate_fn == dict(type='pseudo_collate')
