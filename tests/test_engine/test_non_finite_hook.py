"""NonFiniteCheckHook: stop at a NaN loss (naming epoch, iteration, term)."""
from types import SimpleNamespace

import pytest
import torch

from vega_mm.engine.hooks import NonFiniteCheckHook
from vega_mm.utils.checkpoint import CheckpointError


def _runner(epoch=2, it=17):
    return SimpleNamespace(epoch=epoch, iter=it)


def test_finite_losses_pass_and_only_loss_terms_are_checked():
    hook = NonFiniteCheckHook()
    outputs = {'loss': torch.tensor(1.5), 'loss_kd': torch.tensor(0.2),
               'acc': torch.tensor(float('nan'))}  # a logged NaN that is not a loss
    assert hook.after_train_iter(_runner(), 3, outputs=outputs) is None
    assert set(outputs) == {'loss', 'loss_kd', 'acc'}  # the outputs are left as they were
    assert float(outputs['loss']) == 1.5 and float(outputs['loss_kd']) == pytest.approx(0.2)
    assert hook.after_train_iter(_runner(), 3, outputs=None) is None  # nothing to check
    # the same outputs with one loss term made NaN stop training: the check is live
    with pytest.raises(FloatingPointError, match=r'loss_kd=nan'):
        hook.after_train_iter(_runner(), 3, outputs=dict(outputs,
                                                         loss_kd=torch.tensor(float('nan'))))


def test_nan_loss_names_epoch_iteration_and_term():
    outputs = {'loss': torch.tensor(float('nan')), 'loss_cls_fused': torch.tensor(0.7),
               'loss_anchor_text': torch.tensor(float('inf'))}
    with pytest.raises(FloatingPointError) as info:
        NonFiniteCheckHook().after_train_iter(_runner(epoch=2, it=17), 3, outputs=outputs)
    message = str(info.value)
    assert 'epoch 3, iteration 18 (batch 4 of the epoch)' in message
    assert 'loss_anchor_text=inf' in message and 'loss_cls_fused' not in message


def test_checkpoint_with_inf_weights_is_refused():
    state = {'w': torch.ones(4), 'step': torch.tensor(3)}
    NonFiniteCheckHook().after_load_checkpoint(None, {'state_dict': state})
    state['w'][1] = float('inf')
    with pytest.raises(CheckpointError, match=r'w \(0 NaN, 1 Inf of 4\)'):
        NonFiniteCheckHook().after_load_checkpoint(None, {'state_dict': state})
