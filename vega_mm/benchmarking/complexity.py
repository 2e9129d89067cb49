"""Parameters and FLOPs of a benchmark row's model, from its config (the zoo table's
columns)."""
from typing import Dict, Sequence

__all__ = ['config_complexity']


def config_complexity(config: str, cfg_options: Sequence[str] = (),
                      length: int = 10) -> Dict[str, float]:
    """Build the model a config (with ``--cfg-options``) describes, as the runner does,
    and count it on one random dialogue of ``length`` utterances.

    Returns:
        ``params`` (all parameters) and ``flops_per_utterance`` (forward, inference path;
        see :func:`vega_mm.analysis.model_complexity`).

    Raises:
        ValueError: the config cannot be read or built (named).
    """
    import torch
    from mmengine.config import Config
    from mmengine.registry import init_default_scope

    from vega_mm.analysis import model_complexity
    from vega_mm.registry import MODELS
    from vega_mm.utils import apply_modalities
    from .multi_seed import parse_cfg_options
    try:
        cfg = Config.fromfile(config)
        cfg.merge_from_dict(parse_cfg_options(cfg_options))
        apply_modalities(cfg)
        init_default_scope(cfg.get('default_scope', 'vega_mm'))
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
    except Exception as exc:  # a config that trains but cannot be counted: say which
        raise ValueError(f'{config}: cannot build the model to count it: '
                         f'{type(exc).__name__}: {exc}') from exc
    res = model_complexity(model, length)
    return dict(params=float(res['params']),
                flops_per_utterance=float(res['forward_flops_per_utterance']))
