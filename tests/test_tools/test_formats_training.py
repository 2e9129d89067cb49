"""Short training runs on each feature-file format, through the real configs."""
import pytest
import torch

from tests.test_tools.common import REPO, read_results, run_tool
from tests.utils import make_sdt_pickle, make_vega_pickle
from vega_mm.anchors.io import save_anchor_file

TRAIN = str(REPO / 'tools' / 'train.py')
IEMOCAP = ('happy', 'sad', 'neutral', 'anger', 'excited', 'frustration')
MELD = ('neutral', 'surprise', 'fear', 'sadness', 'joy', 'disgust', 'anger')

TINY = """
_base_ = {base!r}
model = dict(
    backbone=dict(input_dims=dict(text=32, audio=16, visual=8), hidden_dim=16, num_heads=2),
    head=dict(vega_head=dict(anchor_bank=dict(anchor_file=None, random_anchors=True, dim=8))))
_data = dict(data_root={root!r}, ann_file={ann!r})
train_dataloader = dict(batch_size=4, dataset=_data)
val_dataloader = dict(dataset=_data)
test_dataloader = dict(dataset=_data)
train_cfg = dict(max_epochs=2)
"""


def _write_native(path):
    from vega_mm.datasets.formats import load_conversations, save_native
    pkl = make_sdt_pickle(str(path.with_suffix('.pkl')), 'iemocap', num_train=16)
    col = load_conversations(pkl, classes=IEMOCAP)
    save_native(str(path), col.dialogues, col.classes, col.splits,
                num_speakers=col.num_speakers)
    return path


@pytest.mark.parametrize('fmt', ['sdt_iemocap', 'sdt_meld', 'vega_iemocap', 'native'])
def test_short_training_run_per_format(tmp_path, fmt):
    if fmt == 'native':
        ann = _write_native(tmp_path / 'feats.npz')
        base = 'vega_iemocap.py'
    else:
        kind, dataset = fmt.split('_')
        make = make_sdt_pickle if kind == 'sdt' else make_vega_pickle
        ann = tmp_path / 'feats.pkl'
        make(str(ann), dataset, num_train=16)
        base = f'vega_{dataset}.py'
    cfg = tmp_path / 'cfg.py'
    cfg.write_text(TINY.format(base=str(REPO / 'configs' / 'vega' / base),
                               root=str(tmp_path), ann=ann.name))
    run_tool([TRAIN, str(cfg), '--work-dir', str(tmp_path / 'work')])
    res = read_results(tmp_path / 'work')
    assert res['best_checkpoint']
    assert 0 < res['test']['erc/weighted_f1'] <= 100


def test_meld_config_unchanged_on_files_placed_as_documented(tmp_path):
    """configs/vega/vega_meld.py with data/meld/<pickle> and data/anchors/meld_anchor.pt
    relative to the working directory, at the published feature dimensions."""
    (tmp_path / 'data' / 'meld').mkdir(parents=True)
    make_sdt_pickle(str(tmp_path / 'data' / 'meld' / 'meld_multimodal_features.pkl'),
                    'meld', num_train=10, num_test=4, dims=(1024, 300, 342))
    gen = torch.Generator().manual_seed(0)
    # anchors in another class order and spelling: matched by name
    names = ['Anger', 'Disgust', 'Fear', 'Joy', 'Neutral', 'Sadness', 'Surprise']
    save_anchor_file(str(tmp_path / 'data' / 'anchors' / 'meld_anchor.pt'), names,
                     [torch.randn(5, 512, generator=gen) for _ in names])
    run_tool([TRAIN, str(REPO / 'configs' / 'vega' / 'vega_meld.py'), '--work-dir',
              str(tmp_path / 'work'), '--cfg-options', 'train_cfg.max_epochs=1'],
             cwd=tmp_path)
    res = read_results(tmp_path / 'work')
    assert set(res['test']) >= {'erc/accuracy', 'erc/weighted_f1', 'erc/macro_f1',
                                'erc/f1_neutral', 'erc/weighted_f1_anchor_fused'}
