"""StateDictDigestHook: the weights' SHA-256 recorded at save time, checked at load time."""
from collections import OrderedDict

import pytest
import torch

from vega_mm.engine.hooks import StateDictDigestHook
from vega_mm.utils.checkpoint import (DIGEST_KEY, CheckpointError, check_state_dict_digest,
                                      state_dict_digest)


def _state():
    torch.manual_seed(0)
    return OrderedDict(a=torch.randn(3, 4), b=torch.arange(5), c=torch.randn(2).bfloat16())


def test_the_digest_is_canonical_and_sees_one_flipped_bit():
    state = _state()
    reordered = OrderedDict(reversed(list(state.items())))
    assert state_dict_digest(state) == state_dict_digest(reordered)
    flipped = OrderedDict((k, v.clone()) for k, v in state.items())
    flipped['a'].view(torch.int32)[0, 0] ^= 1  # the lowest bit of one float
    assert state_dict_digest(flipped) != state_dict_digest(state)
    renamed = OrderedDict(('z' if k == 'a' else k, v) for k, v in state.items())
    assert state_dict_digest(renamed) != state_dict_digest(state)


def test_the_hook_records_at_save_and_refuses_other_weights_at_load():
    hook = StateDictDigestHook()
    checkpoint = dict(meta=dict(epoch=1), state_dict=_state())
    hook.before_save_checkpoint(None, checkpoint)
    assert checkpoint['meta'][DIGEST_KEY] == state_dict_digest(checkpoint['state_dict'])
    import vega_mm
    assert checkpoint['meta']['vega_mm_version'] == vega_mm.__version__
    hook.after_load_checkpoint(None, checkpoint)  # the same weights: fine
    checkpoint['state_dict']['b'][0] = 7
    with pytest.raises(CheckpointError, match='is corrupt: the SHA-256 of its weights'):
        hook.after_load_checkpoint(None, checkpoint)
    with pytest.raises(CheckpointError, match="checkpoint 'x.pth' is corrupt"):
        check_state_dict_digest(checkpoint, 'x.pth')
    del checkpoint['meta'][DIGEST_KEY]  # an older checkpoint: nothing to check
    hook.after_load_checkpoint(None, checkpoint)
