"""tools/test.py and tools/infer.py refuse an --out they cannot write before any work."""
import os
import sys

import pytest

from tests.test_tools.common import load_tool

UNWRITABLE = '/proc/vega_mm_out/preds'  # /proc passes os.access(W_OK) as root


@pytest.mark.skipif(not os.path.isdir('/proc/self'), reason='needs Linux /proc')
@pytest.mark.parametrize('tool, work, suffix', [
    ('tools/test.py', 'vega_mm.apis.test_checkpoint', '.json'),  # imported inside main
    ('tools/infer.py', 'vega_mm.apis.infer_command.ConversationInferencer', '.jsonl'),
])
def test_unwritable_out_fails_before_the_model_is_loaded(tool, work, suffix, monkeypatch,
                                                        tmp_path):
    module = load_tool(tool)
    called = []
    if '.' in work:
        import importlib
        owner, name = work.rsplit('.', 1)
        monkeypatch.setattr(importlib.import_module(owner), name,
                            lambda *a, **k: called.append(a))
    else:
        monkeypatch.setattr(module, work, lambda *a, **k: called.append(a))
    config = tmp_path / 'c.py'
    config.write_text("model = dict(type='ConversationClassifier')\n")
    args = [str(config), 'ckpt.pth'] + (['in.jsonl'] if 'infer' in tool else [])
    monkeypatch.setattr(sys, 'argv', [tool, *args, '--out', UNWRITABLE + suffix])
    with pytest.raises(SystemExit, match=r"^error: --out '/proc/vega_mm_out/preds\.jsonl?': "
                                         r"cannot write in folder '/proc'"):
        module.main()
    assert not called
