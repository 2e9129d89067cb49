"""The one tiny trained run that the tool tests read; the inference fixtures
(tests/inference_fixtures.py) for tools/infer.py's tests."""
import pytest

from tests.inference_fixtures import (causal_model, feature_file, meld_like_tables,  # noqa: F401
                                      text_model, train_meta, transcripts)

from tests.test_tools.common import read_results, snapshot, train_tiny_run


@pytest.fixture(scope='session')
def tiny_run(tmp_path_factory):
    """A finished tools/train.py run of the tiny synthetic VEGA (4 epochs): the config,
    the work dir (checkpoints, logs, ``results.json``), the tool's stdout and the results.

    Shared by every test that only reads a trained run (the test, analysis and
    fault-injection tools compare against it); tests of training itself train their
    own. A test must not write into the work dir: the fixture checks at the end of the
    session that no file there changed.
    """
    run = train_tiny_run(tmp_path_factory.mktemp('tiny_run'), epochs=4)
    run['results'] = read_results(run['work'])
    before = snapshot(run['work'])
    yield run
    changed = sorted(set(before.items()) ^ set(snapshot(run['work']).items()))
    assert not changed, f'a test changed the shared tiny run: {sorted({c[0] for c in changed})}'
