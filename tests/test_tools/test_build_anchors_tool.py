"""tools/build_anchors.py end to end: real faces -> anchor file -> VEGA configs use it."""
import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vega_mm.anchors import (anchor_build_config, image_encoder_config, load_anchor_file,
                             read_anchors)

REPO = Path(__file__).parents[2]
FER = ['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise']
IEMOCAP_MAP = {'excited': 'happy', 'frustration': 'angry'}


def _tool():
    spec = importlib.util.spec_from_file_location('build_anchors',
                                                  REPO / 'tools' / 'build_anchors.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope='module')
def built(faces_dir, open_clip_pair, tmp_path_factory):
    """``build_anchors.py ../shared/data/faces --out X.pt --weights W --detect-faces``."""
    out = tmp_path_factory.mktemp('built') / 'fer_vitb32.pt'
    tool = _tool()
    argv = [str(faces_dir), '--out', str(out), '--weights', str(open_clip_pair[1]),
            '--detect-faces', '--device', 'cpu', '--batch-size', '16', '--no-progress']
    import contextlib
    import io
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = tool.main(argv)
    return out, code, buf.getvalue()


def test_tool_writes_anchor_file_from_real_faces(built, open_clip_pair):
    out, code, printed = built
    assert code == 0, printed
    data = load_anchor_file(str(out))
    assert data['class_names'] == FER
    assert data['centers'].shape == (7, 512)
    assert [e.shape[0] for e in data['exemplars']] == [12] * 7
    meta = data['meta']
    assert meta['encoder']['model'] == 'ViT-B-32'
    assert meta['encoder']['weights'] == str(open_clip_pair[1])
    assert meta['face_detector']['type'] == 'HaarCascadeFaceDetector'
    assert sum(len(v) for v in meta['images'].values()) == 84
    # the printed report: a row per class, faces not found, speed
    for cls in FER:
        assert f'\n{cls} ' in printed
    assert 'faces not found (whole image used)' in printed and 'images/s:' in printed


def test_tool_reports_missing_classes(faces_dir, open_clip_pair, tmp_path, capsys):
    code = _tool().main([str(faces_dir), '--out', str(tmp_path / 'x.pt'), '--classes',
                         'iemocap', '--weights', str(open_clip_pair[1]), '--no-progress'])
    assert code == 1
    err = capsys.readouterr().err
    assert "'excited' has no folder" in err and "'frustration' has no folder" in err
    assert not (tmp_path / 'x.pt').exists()


def test_encoder_config_from_options_and_file():
    assert image_encoder_config(weights='w.safetensors', quick_gelu=True, device='cpu') == dict(
        type='OpenCLIPImageEncoder', model_name='ViT-B-32', pretrained='w.safetensors',
        quick_gelu=True, device='cpu')
    # another encoder than the file's: the file's arguments do not apply
    assert image_encoder_config('hf_clip', weights='dir/',
                                base=dict(type='open_clip', pretrained='p')) == dict(
        type='HFCLIPImageEncoder', name_or_path='dir/')
    # no options: the file's encoder as it is (aliases resolved)
    assert image_encoder_config(base=dict(type='HFCLIPImageEncoder', name_or_path='d')) == \
        dict(type='HFCLIPImageEncoder', name_or_path='d')
    assert image_encoder_config('mmpretrain_clip', model='ViT-B-16', weights='c.pth') == dict(
        type='MMPretrainCLIPImageEncoder', arch='ViT-B-16', checkpoint='c.pth')
    # an option of another encoder is an error, not silently dropped
    with pytest.raises(ValueError, match="HFCLIPImageEncoder has no option 'quick_gelu'"):
        image_encoder_config('hf_clip', quick_gelu=True)
    with pytest.raises(KeyError, match="unknown image encoder 'clip'"):
        image_encoder_config('clip')


def test_anchor_build_config_options_override_the_file(tmp_path):
    cfg = tmp_path / 'anchor_cfg.py'
    cfg.write_text("_arch = 'ViT-B-16'\nencoder = dict(type='open_clip', model_name=_arch)\n"
                   "face_detector = dict(type='HaarCascadeFaceDetector', margin=0.1)\n"
                   "classes = 'meld'\nbatch_size = 8\n")
    kwargs = anchor_build_config(str(cfg), weights='w.pt', classes='iemocap',
                                 class_mapping=['excited=happy'], face_margin=0.3)
    assert kwargs == dict(
        encoder=dict(type='OpenCLIPImageEncoder', model_name='ViT-B-16', pretrained='w.pt'),
        classes='iemocap', class_mapping=['excited=happy'],
        face_detector=dict(type='HaarCascadeFaceDetector', margin=0.3), batch_size=8)
    # detect_faces adds the default detector; without options, whole images
    assert anchor_build_config(detect_faces=True)['face_detector'] == dict(
        type='HaarCascadeFaceDetector')
    plain = anchor_build_config()
    assert plain['face_detector'] is None and plain['batch_size'] == 32
    with pytest.raises(ValueError, match='face_margin=0.2 needs a face detector'):
        anchor_build_config(face_margin=0.2)
    cfg.write_text("encoders = dict(type='open_clip')\n")
    with pytest.raises(KeyError, match=r"anchor_cfg.py: unknown entries \['encoders'\]"):
        anchor_build_config(str(cfg))


@pytest.mark.filterwarnings('ignore:Fail to import')
def test_vega_meld_config_consumes_built_anchors(built):
    """The MELD config's AnchorBank reads the file: FER folder names -> MELD names."""
    out = built[0]
    cfg_path = REPO / 'configs' / 'vega' / 'vega_meld.py'
    if not cfg_path.is_file():
        pytest.skip(f'{cfg_path} not present yet')
    from mmengine.config import Config

    import vega_mm  # noqa: F401  (registries)
    from vega_mm.registry import MODELS
    cfg = Config.fromfile(str(cfg_path))
    cfg.model.head.vega_head.anchor_bank.anchor_file = str(out)
    model = MODELS.build(cfg.model)
    bank = model.anchor_head.anchor_bank
    meld = list(cfg.model.classes)
    _, exemplars, _, _ = read_anchors(str(out), meld, dim=512)
    centers = torch.stack([e.mean(0) for e in exemplars])  # the builder's are L2-normalised
    torch.testing.assert_close(bank.centers, centers, rtol=0, atol=1e-6)
    assert bank.num_exemplars.tolist() == [e.shape[0] for e in exemplars]


def test_short_vega_training_run_with_built_anchors(built, tmp_path):
    """tools/train.py on the synthetic IEMOCAP-named conversations (one short epoch), with
    the built 512-d anchors and IEMOCAP's extra classes mapped to FER classes; the trained
    model's anchor bank holds the file's anchors in the dataset's class order."""
    out = built[0]
    train = REPO / 'tools' / 'train.py'
    cfg_path = REPO / 'configs' / 'vega' / 'vega_synthetic.py'
    if not (train.is_file() and cfg_path.is_file()):
        pytest.skip('tools/train.py or configs/vega/vega_synthetic.py not present yet')
    work = tmp_path / 'work'
    bank = 'model.head.vega_head.anchor_bank'
    cmd = [sys.executable, str(train), str(cfg_path), '--work-dir', str(work),
           '--no-validate', '--no-test', '--cfg-options', 'train_cfg.max_epochs=1',
           'train_dataloader.dataset.num_dialogues=18', f'{bank}.anchor_file={out}',
           f'{bank}.random_anchors=False', f'{bank}.dim=512',
           f'{bank}.class_mapping.excited=happy', f'{bank}.class_mapping.frustration=angry']
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert 'loss_anc' in proc.stdout + proc.stderr
    ckpts = sorted(work.glob('epoch_*.pth'))
    assert ckpts, f'no checkpoint in {work}: {sorted(p.name for p in work.iterdir())}'
    # our own checkpoint, just written: a full load is safe here
    state = torch.load(ckpts[-1], map_location='cpu', weights_only=False)['state_dict']
    iemocap = ['happy', 'sad', 'neutral', 'anger', 'excited', 'frustration']
    _, exemplars, _, _ = read_anchors(str(out), iemocap, dim=512, class_mapping=IEMOCAP_MAP)
    centers = torch.stack([e.mean(0) for e in exemplars])
    torch.testing.assert_close(state['head.vega_head.anchor_bank.centers'], centers,
                               rtol=0, atol=1e-6)
