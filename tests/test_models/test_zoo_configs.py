"""Every config of the model zoo (configs/dialoguegcn, mmgcn, m3net, graphsmile; each
model with and without VEGA's head) trains one epoch on synthetic data, and a model
built from each one's synthetic config survives a checkpoint round trip."""
import pytest
import torch

from tests.model_utils import DIMS
from tests.zoo_utils import REPO, ZOO_CONFIGS, ZOO_MODELS, synthetic_config
from vega_mm.registry import MODELS

pytest.importorskip('torch_geometric')


def test_every_zoo_model_has_its_configs():
    names = {p.stem for p in ZOO_CONFIGS}
    for model in ZOO_MODELS:
        for vega in ('', 'vega_'):
            for data in ('iemocap', 'meld', 'meld_text', 'synthetic'):
                assert f'{model}_{vega}{data}' in names


@pytest.mark.parametrize('path', ZOO_CONFIGS, ids=lambda p: p.stem)
def test_every_zoo_config_trains_one_epoch_on_synthetic_data(path, tmp_path):
    from vega_mm.engine import build_runner
    from vega_mm.utils import apply_modalities, check_config
    cfg = apply_modalities(check_config(synthetic_config(path, tmp_path / 'work')))
    runner = build_runner(cfg)
    before = {k: v.clone() for k, v in runner.model.backbone.state_dict().items()}
    runner.train()
    after = runner.model.backbone.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert list((tmp_path / 'work').glob('best_*.pth'))


@pytest.mark.parametrize('model', ZOO_MODELS)
def test_checkpoint_round_trip(model, tmp_path):
    from tests.model_utils import make_batch
    from vega_mm.utils import apply_modalities
    cfg = synthetic_config(REPO / 'configs' / model / f'{model}_vega_synthetic.py', tmp_path)
    cfg.model.backbone.input_dims = dict(DIMS)
    apply_modalities(cfg)
    built = MODELS.build(cfg.model).eval()
    batch = built.data_preprocessor(make_batch((5, 3), num_classes=6), training=False)
    with torch.no_grad():
        ref = built(**batch, mode='tensor')
    torch.save(built.state_dict(), tmp_path / 'ckpt.pth')
    torch.manual_seed(123)
    fresh = MODELS.build(cfg.model).eval()
    fresh.load_state_dict(torch.load(tmp_path / 'ckpt.pth'))
    with torch.no_grad():
        out = fresh(**batch, mode='tensor')
    assert set(out) == set(ref)
    assert all(torch.equal(out[k], ref[k]) for k in ref)
