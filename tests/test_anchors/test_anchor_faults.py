"""Anchors under bad input: image bombs, memory, NaN anchors, bad output paths."""
import importlib.util
from pathlib import Path

import pytest
import torch
from PIL import Image

from tests.test_anchors.conftest import write_image
from vega_mm.anchors import build_anchor_bank_from_folder, load_rgb_image, save_anchor_file

REPO = Path(__file__).resolve().parents[2]


def _folder(tmp_path, n=3, size=(40, 30)):
    root = tmp_path / 'faces'
    for c, cls in enumerate(('happy', 'sad')):
        for i in range(n):
            write_image(root / cls / f'{i}.png', 'RGB', size=size, seed=10 * c + i)
    return root


def test_image_above_the_pixel_limit_is_refused_before_decoding(tmp_path, monkeypatch):
    path = write_image(tmp_path / 'big.png', 'RGB', size=(200, 100))
    decoded = []
    monkeypatch.setattr(Image.Image, 'load', lambda self: decoded.append(1))
    with pytest.raises(ValueError, match=r'image too large: 200x100 = 20000 pixels, more '
                       r'than 10000 \(a decompression bomb\?\)'):
        load_rgb_image(str(path), max_pixels=10_000)
    assert not decoded


def test_builder_skips_and_reports_image_bombs(tmp_path, colour_encoder, monkeypatch):
    root = _folder(tmp_path)
    write_image(root / 'happy' / 'bomb.png', 'RGB', size=(400, 400))
    monkeypatch.setattr(Image, 'MAX_IMAGE_PIXELS', 100_000)  # PIL's limit, made small
    report = build_anchor_bank_from_folder(root, colour_encoder, progress=False)
    assert [r for r, why in report.skipped if 'image too large' in why] == ['happy/bomb.png']
    assert report.n_images == 6


def test_images_are_decoded_and_encoded_in_bounded_batches(tmp_path, colour_encoder):
    root = _folder(tmp_path, n=4)
    whole = build_anchor_bank_from_folder(root, colour_encoder, progress=False)
    calls, encode = [], colour_encoder.encode

    def counting(images, **kw):  # the decoded pixels handed to each encode call
        calls.append(sum(im.width * im.height for im in images))
        return encode(images, **kw)
    colour_encoder.encode = counting
    report = build_anchor_bank_from_folder(root, colour_encoder, progress=False,
                                           batch_size=3, max_batch_pixels=2 * 40 * 30)
    # a batch is encoded as soon as it reaches the pixel budget: never more than 2 here
    assert len(calls) == 4 and max(calls) == 2 * 40 * 30
    for a, b in zip(report.exemplars, whole.exemplars):
        torch.testing.assert_close(a, b)


def test_non_finite_exemplars_are_not_written(tmp_path):
    bad = torch.ones(2, 4)
    bad[1, 2] = float('nan')
    with pytest.raises(ValueError, match=r"exemplars of \['sad'\] hold NaN"):
        save_anchor_file(str(tmp_path / 'a.pt'), ['happy', 'sad'], [torch.ones(1, 4), bad])
    assert not (tmp_path / 'a.pt').exists()
    with pytest.raises(ValueError, match='is a directory'):
        save_anchor_file(str(tmp_path), ['happy'], [torch.ones(1, 4)])


def test_anchor_bank_refuses_nan_anchors_from_a_checkpoint():
    from vega_mm.models.anchor_banks import AnchorBank
    bank = AnchorBank(num_classes=2, dim=4, random_anchors=True)
    state = {k: v.clone() for k, v in bank.state_dict().items()}
    state['centers'][0, 0] = float('nan')
    with pytest.raises(ValueError, match='centers: the anchors being loaded hold NaN'):
        AnchorBank(num_classes=2, dim=4, random_anchors=True).load_state_dict(state)


def test_build_anchors_tool_checks_the_output_path_before_encoding(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location('build_anchors',
                                                  REPO / 'tools' / 'build_anchors.py')
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    root = _folder(tmp_path)
    # the weights named here do not exist: the output check must fail first
    code = tool.main([str(root), '--out', str(tmp_path), '--weights',
                      str(tmp_path / 'absent.safetensors'), '--no-progress'])
    assert code == 1
    assert 'is a directory; expected a file name' in capsys.readouterr().err
