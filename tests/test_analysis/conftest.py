"""A tiny random VEGA model on a few synthetic dialogues, built in-process."""
import pytest

from tests.test_tools.common import SYNTHETIC

TINY = {
    # the per-pair reference backbone: the FLOPs tests name its layers
    'model.backbone.type': 'SDTBackbone',
    'model.backbone.hidden_dim': 16, 'model.backbone.num_heads': 2,
    'model.head.vega_head.anchor_bank.dim': 8,
    'test_dataloader.dataset.num_dialogues': (4, 4, 6),
    'test_dataloader.batch_size': 4,
}


@pytest.fixture(scope='package')
def tiny_model():
    import torch

    from vega_mm.apis import init_model
    torch.manual_seed(0)
    return init_model(str(SYNTHETIC), None, cfg_options=dict(TINY))


@pytest.fixture(scope='package')
def tiny_loader(tiny_model):
    from mmengine.runner import Runner
    return Runner.build_dataloader(tiny_model.cfg.test_dataloader)
