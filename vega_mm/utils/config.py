"""Config-level derivations that MMEngine's merging cannot express."""
from typing import Optional

from mmengine.config import Config, ConfigDict

from vega_mm.datasets.meta import MODALITIES

__all__ = ['apply_modalities']

_DATALOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def apply_modalities(cfg: Config) -> Config:
    """Apply a config's one ``modalities`` declaration to every part that reads it.

    A config names its modalities once, at the top level (``modalities = ('text', )``).
    This sets them on the model (which derives the backbone inputs, the heads' branches
    and the distillation weights from them), on each dataloader's dataset and on every
    ``PackConversationInputs`` of their pipelines.  Configs without the top-level key
    are returned unchanged.  The config is changed in place and returned.

    Raises:
        ValueError: the declaration is empty or names an unknown modality.
    """
    modalities = cfg.get('modalities')
    if modalities is None:
        return cfg
    if isinstance(modalities, str):
        modalities = (modalities, )
    modalities = tuple(modalities)
    unknown = [m for m in modalities if m not in MODALITIES]
    if not modalities or unknown:
        raise ValueError(f'config key modalities={modalities!r}: expected a non-empty '
                         f'subset of {MODALITIES}')
    model = cfg.get('model')
    if isinstance(model, dict) and model.get('type') == 'ConversationClassifier':
        model['modalities'] = modalities
    for key in _DATALOADERS:
        dataset = _dataset(cfg.get(key))
        if dataset is None:
            continue
        dataset['modalities'] = modalities
        for transform in dataset.get('pipeline') or []:
            if isinstance(transform, dict) and \
                    transform.get('type') == 'PackConversationInputs':
                transform['modalities'] = modalities
    return cfg


def _dataset(loader: Optional[dict]) -> Optional[ConfigDict]:
    if not isinstance(loader, dict):
        return None
    dataset = loader.get('dataset')
    return dataset if isinstance(dataset, dict) else None
