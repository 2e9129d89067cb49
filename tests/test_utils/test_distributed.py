import pytest
import torch
from mmengine.config import Config

from vega_mm.utils import setup_cpu_distributed


def test_single_process_config_is_untouched():
    cfg = Config(dict(model_wrapper_cfg=None, sync_bn='torch'))
    setup_cpu_distributed(cfg, 'none')
    assert cfg.model_wrapper_cfg is None and cfg.sync_bn == 'torch'


@pytest.mark.skipif(torch.cuda.is_available(), reason='CPU-only behaviour')
def test_cpu_only_launchers_other_than_torchrun_are_refused():
    with pytest.raises(ValueError, match="'slurm'"):
        setup_cpu_distributed(Config(), 'slurm')
