"""Checkpoints that must not be trusted are refused where vega_mm loads them for
inference: flipped bytes (the weights' digest in ``meta``), another config's weights
(the message tools/test.py gives), a config that contradicts the training one."""
import shutil
import struct
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from tests.test_tools.common import load_tool
from vega_mm.apis import init_model
from vega_mm.utils.checkpoint import CheckpointError
from vega_mm.utils.config import ConfigError


def _best(tiny_run) -> str:
    return tiny_run['results']['best_checkpoint']


def flip_weight_bytes(src: str, dst: Path) -> Path:
    """A copy of a checkpoint with bytes flipped inside its largest tensor (the zip
    container stays readable: torch.load does not check member CRCs)."""
    shutil.copyfile(src, dst)
    with zipfile.ZipFile(dst) as archive:
        info = max((i for i in archive.infolist() if '/data/' in i.filename),
                   key=lambda i: i.file_size)
    data = bytearray(dst.read_bytes())
    name_len, extra_len = struct.unpack('<HH', data[info.header_offset + 26:
                                                    info.header_offset + 30])
    start = info.header_offset + 30 + name_len + extra_len
    for k in range(start + info.file_size // 3, start + info.file_size // 3 + 8):
        data[k] ^= 0xFF
    dst.write_bytes(bytes(data))
    return dst


def tamper(src: str, dst: Path) -> Path:
    """A checkpoint re-saved with one weight changed and the meta kept (a valid file
    whose weights are not those that were trained)."""
    ckpt = torch.load(src, map_location='cpu', weights_only=False)
    name = max(ckpt['state_dict'], key=lambda k: ckpt['state_dict'][k].numel())
    ckpt['state_dict'][name].view(-1)[0] += 1.0
    torch.save(ckpt, dst)
    return dst


def test_training_records_the_weights_digest_and_inference_checks_it(tiny_run, tmp_path):
    from vega_mm.utils.checkpoint import DIGEST_KEY, state_dict_digest
    ckpt = torch.load(_best(tiny_run), map_location='cpu', weights_only=False)
    assert ckpt['meta'][DIGEST_KEY] == state_dict_digest(ckpt['state_dict'])
    init_model(str(tiny_run['cfg']), _best(tiny_run))  # intact: loads
    bad = tamper(_best(tiny_run), tmp_path / 'tampered.pth')
    with pytest.raises(CheckpointError, match=f"checkpoint '{bad}' is corrupt: the SHA-256"):
        init_model(str(tiny_run['cfg']), str(bad))


def test_flipped_bytes_in_the_file_are_refused_by_inference(tiny_run, tmp_path):
    bad = flip_weight_bytes(_best(tiny_run), tmp_path / 'flipped.pth')
    with pytest.raises(CheckpointError, match=f"checkpoint '{bad}' is corrupt member"):
        init_model(str(tiny_run['cfg']), str(bad))


def test_a_checkpoint_without_digest_loads(tiny_run, tmp_path):
    """A checkpoint written before digests were recorded loads with its own weights."""
    ckpt = torch.load(_best(tiny_run), map_location='cpu', weights_only=False)
    assert ckpt['meta'].pop('state_dict_sha256', None) is not None
    torch.save(ckpt, tmp_path / 'old.pth')
    model = init_model(str(tiny_run['cfg']), str(tmp_path / 'old.pth'))
    state = model.state_dict()
    assert set(state) == set(ckpt['state_dict'])
    for name, value in ckpt['state_dict'].items():
        torch.testing.assert_close(state[name], value, rtol=0, atol=0, msg=name)
    assert model.dataset_meta == ckpt['meta']['dataset_meta']


def test_load_from_a_tampered_checkpoint_is_refused_by_the_runner(tiny_run, tmp_path):
    from mmengine.config import Config

    from vega_mm.engine import build_runner
    bad = tamper(_best(tiny_run), tmp_path / 'tampered.pth')
    cfg = Config.fromfile(str(tiny_run['cfg']))
    cfg.work_dir = str(tmp_path / 'work')
    cfg.load_from = str(bad)
    runner = build_runner(cfg)
    with pytest.raises(CheckpointError, match=f"checkpoint '{bad}' is corrupt: the SHA-256"):
        runner.load_or_resume()


def test_a_config_that_contradicts_the_training_one_is_refused(tiny_run):
    with pytest.raises(ConfigError, match=r'model.backbone.causal=True here, False in '
                                          r'training'):
        init_model(str(tiny_run['cfg']), _best(tiny_run),
                   cfg_options={'model.backbone.causal': True})
    # max_len changes no prediction (a computed table): raising it is allowed
    model = init_model(str(tiny_run['cfg']), _best(tiny_run),
                       cfg_options={'model.backbone.max_len': 4000})
    assert model.backbone.max_len == 4000


@pytest.fixture(scope='module')
def other_config_checkpoint(tiny_run, tmp_path_factory) -> str:
    """Weights of the tiny model with a wider backbone (another config)."""
    return _wider(tiny_run, tmp_path_factory.mktemp('other'))


def _wider(tiny_run, folder: Path) -> str:
    from vega_mm.models.anchor_banks import anchor_banks_from
    with anchor_banks_from(random=True):
        model = init_model(str(tiny_run['cfg']), None,
                           cfg_options={'model.backbone.hidden_dim': 24})
    path = folder / 'wide.pth'
    torch.save(dict(state_dict=model.state_dict(), meta={}), path)
    return str(path)


@pytest.mark.parametrize('tool,extra', [
    ('tools/infer.py', ['features.npz', '--out', 'p.jsonl']),
    ('tools/analysis_tools/vis_anchor_space.py', ['--out-dir', 'vis']),
    ('tools/analysis_tools/get_flops.py', []),
])
def test_tools_name_a_checkpoint_of_another_config_as_test_does(
        tool, extra, tiny_run, other_config_checkpoint, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    # infer.py names a missing INPUT before it loads the model: give it one, so the
    # checkpoint is what it finds wrong (it is refused before the input is read)
    (tmp_path / 'features.npz').write_bytes(b'')
    ckpt = ['--checkpoint', other_config_checkpoint] if 'get_flops' in tool \
        else [other_config_checkpoint]
    monkeypatch.setattr(sys, 'argv', [tool, str(tiny_run['cfg']), *ckpt, *extra])
    with pytest.raises(SystemExit) as info:
        load_tool(tool).main()
    message = str(info.value.code)
    assert message.startswith(f"error: checkpoint '{other_config_checkpoint}' does not fit "
                              f"the model of {tiny_run['cfg']}: "), message
    assert 'tensors of another shape' in message and '\n' not in message


def _checkpoint_of_another_model(tiny_run, folder: Path) -> str:
    """A checkpoint of another model, as tools/train.py leaves it: causal, 7 classes,
    a 12-d anchor bank, its config's text in ``meta.cfg`` and the config saved beside it."""
    from mmengine.config import Config

    from vega_mm.models.anchor_banks import anchor_banks_from
    cfg = Config.fromfile(str(tiny_run['cfg']))
    cfg.merge_from_dict({'model.backbone.causal': True, 'model.classes': list('abcdefg'),
                         'model.head.vega_head.anchor_bank.dim': 12})
    with anchor_banks_from(random=True):
        model = init_model(cfg, None)
    path = folder / 'other.pth'
    torch.save(dict(state_dict=model.state_dict(), meta=dict(cfg=cfg.pretty_text)), path)
    (folder / 'decoy.py').write_text('x = 1\n')
    (folder / 'other_model.py').write_text(cfg.pretty_text)
    return str(path)


def test_another_models_checkpoint_gets_advice_that_works(tiny_run, tmp_path):
    """Issue 35, item 8: the whole fit is checked at once; the advice is the training
    config, not a --cfg-options that then fails to build the anchor bank."""
    ckpt = _checkpoint_of_another_model(tiny_run, tmp_path)
    for options in (None, {'model.backbone.causal': True}):
        with pytest.raises(CheckpointError) as info:
            init_model(str(tiny_run['cfg']), ckpt, cfg_options=options)
        msg = str(info.value)
        assert 'does not fit the model' in msg and 'anchor bank' in msg
        assert f"use the config it was trained with, {tmp_path / 'other_model.py'}" in msg
        assert ('model.backbone.causal=False here, True in training' in msg) == \
            (options is None)
    model = init_model(str(tmp_path / 'other_model.py'), ckpt)  # the advice works
    assert model.backbone.causal is True


def test_only_prediction_keys_differ_the_options_given_restore_them(tiny_run):
    with pytest.raises(ConfigError, match=r'--cfg-options model\.backbone\.causal=False'):
        init_model(str(tiny_run['cfg']), _best(tiny_run),
                   cfg_options={'model.backbone.causal': True})


def test_without_the_config_beside_it_the_hint_says_how_to_write_it_out(tiny_run, tmp_path):
    ckpt = _checkpoint_of_another_model(tiny_run, tmp_path)
    (tmp_path / 'other_model.py').unlink()
    with pytest.raises(CheckpointError, match='the checkpoint holds its text') as info:
        init_model(str(tiny_run['cfg']), ckpt)
    command = str(info.value).split('its text: ')[1]
    assert command.startswith('python -c ') and command.endswith('> trained_config.py')
    import os
    import subprocess
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parents[2]))
    subprocess.run(command.replace('python', sys.executable, 1), shell=True, cwd=tmp_path,
                   env=env, check=True, timeout=300)
    assert init_model(str(tmp_path / 'trained_config.py'), ckpt).backbone.causal is True
