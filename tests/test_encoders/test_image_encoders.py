"""Image encoders: weights loaded from local files, preprocessing, normalisation, errors."""
import importlib.util
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from vega_mm.encoders import (HFCLIPImageEncoder, MMPretrainCLIPImageEncoder,
                              OpenCLIPImageEncoder, build_image_encoder, file_sha256)
from vega_mm.registry import ANCHOR_ENCODERS

# ------------------------------------------------------------------------ open_clip


def test_open_clip_random_init_warns_loudly(open_clip_pair):
    memory, _, warned = open_clip_pair
    assert any('NO PRETRAINED WEIGHTS' in w for w in warned), warned
    assert memory.identity['random_init'] is True
    assert memory.identity['weights'] is None


def test_open_clip_weights_file_reproduces_model(open_clip_pair, open_clip_encoder,
                                                 sample_images):
    memory, path, _ = open_clip_pair
    expected = memory.encode(sample_images[:4], batch_size=4)
    got = open_clip_encoder.encode(sample_images[:4], batch_size=4)
    assert got.shape == (4, 512) and got.dtype == torch.float32 and got.device.type == 'cpu'
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    # features depend on the image (a random tower still separates inputs)
    assert (got[0] - got[1]).abs().max() > 1e-4
    ident = open_clip_encoder.identity
    assert ident['type'] == 'OpenCLIPImageEncoder' and ident['model'] == 'ViT-B-32'
    assert ident['weights'] == str(path) and ident['random_init'] is False
    assert ident['weights_sha256'] == file_sha256(str(path))
    assert open_clip_encoder.dim == 512


def test_open_clip_features_are_unit_norm_and_batch_invariant(open_clip_encoder,
                                                              sample_images):
    images = sample_images[:4]
    one = open_clip_encoder.encode(images, batch_size=1)
    three = open_clip_encoder.encode(images, batch_size=3)
    torch.testing.assert_close(one.norm(dim=1), torch.ones(4), rtol=0, atol=1e-5)
    torch.testing.assert_close(three, one, rtol=0, atol=1e-5)
    # deterministic: same call, same numbers
    assert torch.equal(open_clip_encoder.encode(images, batch_size=3), three)


def test_open_clip_own_preprocessing(open_clip_encoder, sample_images):
    # the encoder's transform is open_clip's eval transform: 224 px, CLIP mean/std
    pixels = open_clip_encoder.preprocess([sample_images[0].convert('RGB')])
    assert pixels.shape == (1, 3, 224, 224)
    white = open_clip_encoder.preprocess([Image.new('RGB', (300, 200), 'white')])
    assert white.shape == (1, 3, 224, 224)
    mean = torch.tensor([0.48145466, 0.4578275, 0.40821073])
    std = torch.tensor([0.26862954, 0.26130258, 0.27577711])
    torch.testing.assert_close(white[0, :, 100, 100], (1 - mean) / std)


def test_open_clip_accepts_arrays_and_any_mode(open_clip_encoder, sample_images):
    gray = sample_images[0]
    assert gray.mode == 'L'
    arr = np.asarray(gray.convert('RGB'))
    feats = open_clip_encoder.encode([gray, gray.convert('RGB'), arr])
    torch.testing.assert_close(feats[0], feats[1], rtol=0, atol=1e-6)
    torch.testing.assert_close(feats[0], feats[2], rtol=0, atol=1e-6)
    assert open_clip_encoder.encode([]).shape == (0, 512)
    with_bar = open_clip_encoder.encode([gray], progress=True)
    torch.testing.assert_close(with_bar[0], feats[0], rtol=0, atol=1e-6)
    with pytest.raises(ValueError, match='batch_size'):
        open_clip_encoder.encode([gray], batch_size=0)
    with pytest.raises(TypeError, match='uint8'):
        open_clip_encoder.encode([arr.astype(np.float32)])


def test_open_clip_mismatching_weights_name_file_and_model(open_clip_pair, tmp_path):
    _, path, _ = open_clip_pair
    with pytest.raises(ValueError) as err:
        OpenCLIPImageEncoder('ViT-B-16', pretrained=str(path), device='cpu')
    msg = str(err.value)
    assert str(path) in msg and "'ViT-B-16'" in msg and 'shape mismatch' in msg

    junk = tmp_path / 'junk.pt'
    torch.save({'weight': torch.randn(4, 4)}, junk)
    with pytest.raises(ValueError) as err:
        OpenCLIPImageEncoder('ViT-B-32', pretrained=str(junk), device='cpu')
    msg = str(err.value)
    assert str(junk) in msg and "'ViT-B-32'" in msg and 'missing keys' in msg


def test_open_clip_bad_weights_arguments(tmp_path):
    with pytest.raises(FileNotFoundError, match='does-not-exist.safetensors'):
        OpenCLIPImageEncoder('ViT-B-32', pretrained=str(tmp_path / 'does-not-exist.safetensors'))
    with pytest.raises(ValueError, match="not-a-tag.*openai"):
        OpenCLIPImageEncoder('ViT-B-32', pretrained='not-a-tag')
    with pytest.raises(ValueError, match='no model'):
        OpenCLIPImageEncoder('ViT-B-33')


def test_open_clip_tag_uses_downloaded_file_and_tag_settings(open_clip_pair, monkeypatch):
    """A tag resolves to a downloaded file (faked here: CI is offline) and brings the tag's
    settings: OpenAI's ViT-B-32 weights need QuickGELU."""
    import open_clip
    _, path, _ = open_clip_pair
    calls = []

    def fake_download(cfg, cache_dir=None):
        calls.append(cfg)
        return str(path)

    monkeypatch.setattr(open_clip, 'download_pretrained', fake_download)
    enc = OpenCLIPImageEncoder('ViT-B-32', pretrained='openai', device='cpu')
    assert calls and 'vit_base_patch32_clip_224.openai' in calls[0]['hf_hub']
    ident = enc.identity
    assert ident['quick_gelu'] is True and ident['weights_tag'] == 'openai'
    assert ident['weights'] == 'openai' and ident['weights_sha256'] == file_sha256(str(path))

    def offline(cfg, cache_dir=None):
        raise OSError('network is unreachable')

    monkeypatch.setattr(open_clip, 'download_pretrained', offline)
    with pytest.raises(RuntimeError, match="tag 'openai'.*network is unreachable.*local"):
        OpenCLIPImageEncoder('ViT-B-32', pretrained='openai', device='cpu')


def test_torchscript_weights_are_read_without_pickle(tmp_path):
    """OpenAI publishes CLIP as TorchScript archives; their state dict is read with
    torch.jit.load (no arbitrary unpickling) and the non-weight entries dropped."""
    from vega_mm.encoders.base import _is_torchscript_archive, _read_state_dict

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(3, 2)
            self.register_buffer('input_resolution', torch.tensor(224))

        def forward(self, x):
            return self.proj(x)

    module = Tiny()
    path = tmp_path / 'ViT-tiny.pt'
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # torch.jit.script is deprecated in recent torch
        torch.jit.script(module).save(str(path))
    assert _is_torchscript_archive(str(path))
    sd = _read_state_dict(str(path))
    assert set(sd) == {'proj.weight', 'proj.bias'}
    torch.testing.assert_close(sd['proj.weight'], module.proj.weight.detach())
    plain = tmp_path / 'plain.pt'
    torch.save({'state_dict': {'module.a': torch.ones(1)}}, plain)
    assert not _is_torchscript_archive(str(plain))
    assert list(_read_state_dict(str(plain))) == ['a']


# --------------------------------------------------------------------- transformers


def _hf_reference(model, images):
    from transformers import CLIPImageProcessor
    proc = CLIPImageProcessor(size={'shortest_edge': 224},
                              crop_size={'height': 224, 'width': 224})
    pixels = proc(images=[im.convert('RGB') for im in images], return_tensors='pt')
    with torch.no_grad():
        out = model.get_image_features(pixel_values=pixels['pixel_values'])
    out = out if torch.is_tensor(out) else out.pooler_output
    return F.normalize(out, dim=-1)


def test_hf_clip_directory_reproduces_model(hf_clip_dir, sample_images):
    model, path = hf_clip_dir
    enc = HFCLIPImageEncoder(str(path), device='cpu')
    assert enc.dim == 512
    images = sample_images[:3]
    feats = enc.encode(images, batch_size=2)
    torch.testing.assert_close(feats, _hf_reference(model, images), rtol=0, atol=1e-5)
    torch.testing.assert_close(enc.encode(images, batch_size=1), feats, rtol=0, atol=1e-5)
    torch.testing.assert_close(feats.norm(dim=1), torch.ones(len(feats)), rtol=0, atol=1e-5)
    ident = enc.identity
    assert ident['type'] == 'HFCLIPImageEncoder' and ident['architecture'] == 'CLIPModel'
    assert ident['weights'] == str(path)
    assert ident['weights_sha256'] == {'model.safetensors':
                                       file_sha256(str(path / 'model.safetensors'))}


def test_hf_clip_without_processor_config_uses_clip_defaults(hf_clip_dir, tmp_path,
                                                             sample_images):
    model, path = hf_clip_dir
    bare = tmp_path / 'bare'
    bare.mkdir()
    for name in ('config.json', 'model.safetensors'):
        (bare / name).symlink_to(path / name)
    with pytest.warns(UserWarning, match='no preprocessor_config.json'):
        enc = HFCLIPImageEncoder(str(bare), device='cpu')
    torch.testing.assert_close(enc.encode(sample_images[:2]),
                               _hf_reference(model, sample_images[:2]), rtol=0, atol=1e-5)


def test_hf_clip_mismatching_weights_name_directory_and_model(tmp_path):
    from transformers import CLIPConfig, CLIPModel

    def tiny(patch):
        return CLIPConfig(
            vision_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                               num_attention_heads=2, image_size=64, patch_size=patch),
            text_config=dict(hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                             num_attention_heads=2), projection_dim=16)

    good, other = tmp_path / 'p32', tmp_path / 'p16'
    CLIPModel(tiny(32)).save_pretrained(str(good))
    CLIPModel(tiny(16)).save_pretrained(str(other))
    (other / 'config.json').write_text((good / 'config.json').read_text())
    with pytest.raises(ValueError) as err:
        HFCLIPImageEncoder(str(other), device='cpu')
    msg = str(err.value)
    assert 'model.safetensors' in msg and str(other) in msg and 'CLIPModel' in msg

    from safetensors.torch import save_file
    junk = tmp_path / 'junk'
    junk.mkdir()
    (junk / 'config.json').write_text((good / 'config.json').read_text())
    save_file({'foo': torch.zeros(3)}, str(junk / 'model.safetensors'),
              metadata={'format': 'pt'})  # as save_pretrained writes it
    with pytest.raises(ValueError, match='image-tower keys missing'):
        HFCLIPImageEncoder(str(junk), device='cpu')


def test_hf_clip_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match='not a directory'):
        HFCLIPImageEncoder(str(tmp_path / 'nope'))


# ----------------------------------------------------------------------- mmpretrain


def _mmpretrain_converter():
    import mmpretrain
    path = (Path(mmpretrain.__file__).parent / '.mim' / 'tools' / 'model_converters' /
            'openai-clip_to_mmpretrain-clip.py')
    if not path.is_file():
        pytest.skip(f"mmpretrain's CLIP converter not found at {path}")
    spec = importlib.util.spec_from_file_location('mmpretrain_clip_converter', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.convert_clip


def test_mmpretrain_clip_matches_open_clip_through_official_converter(
        open_clip_pair, tmp_path, sample_images):
    """OpenAI-layout weights converted by mmpretrain's own tool give open_clip's features
    (with QuickGELU, as OpenAI's CLIP).  FER images are 224 px squares, so both
    preprocessings see the same pixels."""
    _, path, _ = open_clip_pair
    reference = OpenCLIPImageEncoder('ViT-B-32', pretrained=str(path), quick_gelu=True,
                                     device='cpu')
    assert reference.identity['quick_gelu'] is True
    from safetensors.torch import load_file
    ckpt = tmp_path / 'mmpretrain_clip_vit_b32.pth'
    torch.save(_mmpretrain_converter()(load_file(str(path))), ckpt)
    enc = MMPretrainCLIPImageEncoder('ViT-B-32', checkpoint=str(ckpt), device='cpu')
    assert enc.dim == 512 and enc.identity['weights_sha256'] == file_sha256(str(ckpt))
    torch.testing.assert_close(enc.encode(sample_images[:3], batch_size=3),
                               reference.encode(sample_images[:3], batch_size=3),
                               rtol=0, atol=1e-5)
    with pytest.raises(ValueError) as err:
        MMPretrainCLIPImageEncoder('ViT-B-16', checkpoint=str(ckpt), device='cpu')
    assert str(ckpt) in str(err.value) and "'ViT-B-16'" in str(err.value)


# ------------------------------------------------------------------------- registry


def test_registry_and_build(open_clip_encoder):
    for name in ('OpenCLIPImageEncoder', 'HFCLIPImageEncoder', 'MMPretrainCLIPImageEncoder',
                 'open_clip', 'hf_clip', 'mmpretrain_clip'):
        assert ANCHOR_ENCODERS.get(name) is not None, name
    # the fixture is built with build_image_encoder(dict(type='open_clip', ...))
    assert isinstance(open_clip_encoder, OpenCLIPImageEncoder)
    assert build_image_encoder(open_clip_encoder) is open_clip_encoder
    with pytest.raises(KeyError, match='registered'):
        build_image_encoder(dict(type='NoSuchEncoder'))
    with pytest.raises(TypeError):
        build_image_encoder('open_clip')
