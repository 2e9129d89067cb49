"""evaluate_best_checkpoint in a distributed run: every rank waits for rank 0's write of
the best checkpoint before loading it."""
from types import SimpleNamespace

from mmengine.logging import MessageHub

import vega_mm.apis.evaluate as evaluate


class _Logger:
    def info(self, msg):
        pass

    warning = info


def test_every_rank_waits_at_a_barrier_before_loading_the_best_checkpoint(monkeypatch):
    calls = []
    hub = MessageHub.get_instance('test_evaluate_best')
    hub.update_info('best_ckpt', 'work/best_erc_weighted_f1_epoch_3.pth')
    runner = SimpleNamespace(
        message_hub=hub, logger=_Logger(), rank=1,
        load_checkpoint=lambda path: calls.append(('load', path)))
    monkeypatch.setattr(evaluate, 'barrier', lambda: calls.append(('barrier', )))
    monkeypatch.setattr(evaluate, 'evaluate_splits',
                        lambda runner, splits: calls.append(('evaluate', )) or {})
    results = evaluate.evaluate_best_checkpoint(runner)
    # a rank other than 0 must not read the file before rank 0 has finished writing it
    assert calls == [('barrier', ), ('load', 'work/best_erc_weighted_f1_epoch_3.pth'),
                     ('evaluate', )]
    assert results['best_checkpoint'] == 'work/best_erc_weighted_f1_epoch_3.pth'
