"""The one converter of old checkpoint keys.

Checkpoints written by earlier versions of vega_mm load into today's models through
:func:`convert_classifier_keys` (a ``load_state_dict`` pre-hook of
:class:`~vega_mm.models.classifiers.ConversationClassifier`) and, for image models'
:class:`~vega_mm.models.heads.DualBranchHead`, :func:`rename_keys`.  The layouts:

- the backbone was the ``neck.``; the distillation temperatures lived in the heads
  (``head.kd_loss.``), not in their loss module (``head.loss_module.kd_loss.``);
- the label-space and anchor-space heads were two slots of the classifier, ``head.``
  and ``vega_head.``; they are now one :class:`DualBranchHead` in ``head.``, as
  ``head.label_head.`` and ``head.vega_head.``.
"""
from typing import Sequence, Tuple

__all__ = ['rename_keys', 'convert_classifier_keys']

# Applied in order: the oldest layout first.
_RENAMES_BEFORE_0_1 = (('neck.', 'backbone.'),
                       ('head.kd_loss.', 'head.loss_module.kd_loss.'),
                       ('vega_head.kd_loss.', 'vega_head.loss_module.kd_loss.'))
_TWO_HEAD_SLOTS = (('head.', 'head.label_head.'), ('vega_head.', 'head.vega_head.'))


def rename_keys(state_dict: dict, prefix: str,
                renames: Sequence[Tuple[str, str]]) -> None:
    """In place: every key ``prefix + old + rest`` becomes ``prefix + new + rest`` (the
    first matching rule of ``renames`` per key)."""
    for key in list(state_dict):
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix):]
        for old, new in renames:
            if rest.startswith(old):
                state_dict[prefix + new + rest[len(old):]] = state_dict.pop(key)
                break


def convert_classifier_keys(module, state_dict: dict, prefix: str, *args, **kwargs) -> None:
    """``load_state_dict`` pre-hook of the conversation classifier: old layouts -> today's.

    When this model's head is a ``DualBranchHead`` and the checkpoint's label head keys
    are not inside one (no ``head.label_head.`` key), the checkpoint has the two-slot
    layout: ``head.`` and ``vega_head.`` move into the composite head.
    """
    rename_keys(state_dict, prefix, _RENAMES_BEFORE_0_1)
    composite = any(k.startswith(prefix + 'head.label_head.') for k in state_dict)
    if hasattr(module.head, 'label_head') and not composite:
        rename_keys(state_dict, prefix, _TWO_HEAD_SLOTS)
