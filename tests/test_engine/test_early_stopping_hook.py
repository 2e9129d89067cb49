from vega_mm.engine import ResumableEarlyStoppingHook


def test_early_stopping_state_survives_checkpoint():
    hook = ResumableEarlyStoppingHook(monitor='erc/weighted_f1', rule='greater', patience=5)
    hook.wait_count, hook.best_score = 3, 61.5
    ckpt = {'meta': {}}
    hook.before_save_checkpoint(None, ckpt)
    fresh = ResumableEarlyStoppingHook(monitor='erc/weighted_f1', rule='greater', patience=5)
    fresh.after_load_checkpoint(None, ckpt)
    assert (fresh.wait_count, fresh.best_score) == (3, 61.5)
