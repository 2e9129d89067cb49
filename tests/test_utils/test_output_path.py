"""check_output_file: an output path that cannot be written is refused before work starts."""
import os

import pytest

from vega_mm.utils.io import check_output_file


def test_writable_file_paths_pass(tmp_path):
    assert check_output_file(str(tmp_path / 'new' / 'deeper' / 'x.npz')).endswith('x.npz')
    (tmp_path / 'old.json').write_text('{}')
    check_output_file(str(tmp_path / 'old.json'))  # replaced later: fine


@pytest.mark.parametrize('make, message', [
    (lambda p: (p / 'out.npz').mkdir() or p / 'out.npz', 'is a directory'),
    (lambda p: (p / 'f').write_text('x') and p / 'f' / 'x.npz', 'is a file, not a folder'),
])
def test_unwritable_paths_name_the_option(tmp_path, make, message):
    with pytest.raises(ValueError, match=rf"--out '.*': ?.*{message}|--out .*{message}"):
        check_output_file(str(make(tmp_path)), '--out')


@pytest.mark.skipif(not os.path.isdir('/proc/self'), reason='needs Linux /proc')
def test_a_folder_that_cannot_be_created_is_refused_even_as_root():
    # /proc passes os.access(W_OK) for root, but nothing can be created in it
    with pytest.raises(ValueError, match=r"--out '/proc/vega_mm_out/p.json': cannot write "
                                         r"in folder '/proc' \(to create "):
        check_output_file('/proc/vega_mm_out/p.json', '--out')
