"""Reading a feature pickle costs memory in proportion to the file, not to its
shared references ("billion laughs")."""
import os
import subprocess
import sys

import pytest

from tests.utils import vega_items, write_pickle
from vega_mm.datasets.formats import safe_load_pickle
from vega_mm.utils.safe_pickle import expanded_size

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _laughs(levels: int = 3, width: int = 1000) -> list:
    """width**levels numbers through shared references: a file of a few KB."""
    node = [0.5] * width
    for _ in range(levels - 1):
        node = [node] * width
    return node


def test_expanded_size_counts_shared_references_once_each_time_they_are_used():
    a = [1.0] * 10
    assert expanded_size([a, a], 10**6) == 2 * 8 + 2 * (10 * 8 + 10 * 8)
    assert expanded_size(_laughs(), 10**6) > 10**6
    cyclic = []
    cyclic.append(cyclic)
    with pytest.raises(ValueError, match='contains itself'):
        expanded_size(cyclic, 10**6)


def test_real_feature_pickle_is_far_below_the_bound(tmp_path):
    path = write_pickle(tmp_path / 'f.pkl', vega_items('meld', 6, 3, dims=(12, 5, 4)), 4)
    size = os.path.getsize(path)
    assert expanded_size(safe_load_pickle(path), 10**9) < 4 * size


# Runs in a child under an address-space limit of 1.5 GB above what the imports took:
# the pickle expands to 10^9 numbers (4 GB as float32), so without the bound the reader
# dies of MemoryError while converting it; with the bound it names the file.
_CHILD = '''
import resource, sys
from vega_mm.datasets.formats import load_conversations
with open('/proc/self/status') as f:
    vm = next(int(l.split()[1]) * 1024 for l in f if l.startswith('VmSize'))
resource.setrlimit(resource.RLIMIT_AS, (vm + (3 << 29), vm + (3 << 29)))
try:
    load_conversations(sys.argv[1])
except MemoryError:
    print('MemoryError')
except ValueError as e:
    print('ValueError', e)
'''


def test_billion_laughs_feature_pickle_is_refused_under_a_memory_limit(tmp_path):
    items = vega_items('iemocap', 4, 2, dims=(8, 4, 3))
    first = next(iter(items['videoText']))
    items['videoText'][first] = _laughs()
    path = write_pickle(tmp_path / 'laughs.pkl', items, 4)
    assert os.path.getsize(path) < 200_000
    env = dict(os.environ, PYTHONPATH=REPO, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-c', _CHILD, str(path)], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.stdout.startswith('ValueError'), proc.stdout + proc.stderr[-2000:]
    assert str(path) in proc.stdout and 'MiB' in proc.stdout
