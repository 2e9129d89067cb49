"""tools/benchmarks/published_parity.py without the published code (which is never in
this repository): its adapters in tools/benchmarks/parity/ import, and a folder that is
not the published checkout is named in one line."""
import pytest

from tests.test_tools.common import load_tool


@pytest.mark.parametrize('method, expected', [
    ('dialoguegcn', 'the DialogueGCN folder of declare-lab/conv-emotion'),
    ('mmgcn', 'the hujingwen6666/MMGCN checkout'),
    ('m3net', 'a feiyuchen7/M3NET checkout'),
    ('graphsmile', 'a lijfrank-open/GraphSmile checkout'),
])
def test_a_folder_without_the_published_code_is_named(method, expected, tmp_path):
    parity = load_tool('tools/benchmarks/published_parity.py')
    adapter = parity.method_module(method)
    assert set(adapter.SIZES) == {'iemocap', 'meld'} and adapter.NOT_COUNTED
    with pytest.raises(SystemExit) as exc:
        parity.main(['--method', method, '--published-code', str(tmp_path)])
    assert str(exc.value) == (f"--published-code {tmp_path}: no {adapter_files(method)} "
                              f'there; give {expected}')


def adapter_files(method):
    return {'dialoguegcn': ['model.py'], 'mmgcn': ['model.py', 'model_GCN.py', 'model_mm.py'],
            'm3net': ['model.py', 'model_hyper.py', 'HypergraphConv.py', 'high_fre_conv.py',
                      'model_GCN.py'],
            'graphsmile': ['model.py', 'module.py', 'utils.py']}[method]


def test_the_sizes_are_those_of_the_published_feature_files():
    parity = load_tool('tools/benchmarks/published_parity.py')
    dgcn, m3net = parity.method_module('dialoguegcn'), parity.method_module('m3net')
    assert dgcn.SIZES['iemocap'] == dict(dims=dict(text=100), speakers=2, classes=6,
                                         lengths=[62, 48, 33, 24])
    assert m3net.SIZES['meld'] == dict(dims=dict(text=1024, audio=300, visual=342),
                                       speakers=9, classes=7,
                                       lengths=[24, 17, 12, 9, 6, 3, 2, 1])
