"""check_output_file: an output path that cannot be written is refused before work starts."""
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
