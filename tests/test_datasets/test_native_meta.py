"""A native .npz whose JSON index has keys of the wrong type: an error naming file and key."""
import json

import numpy as np
import pytest

from vega_mm.datasets.formats import load_native, save_native


@pytest.fixture
def native(tmp_path):
    rng = np.random.default_rng(0)
    dialogues = [dict(dialogue_id=f'd{i}', features={'text': rng.random((3, 4), np.float32)},
                      speakers=np.array([0, 1, 0]), labels=np.array([0, 1, -1]))
                 for i in range(3)]
    path = str(tmp_path / 'f.npz')
    save_native(path, dialogues, ('joy', 'sad'), dict(train=['d0', 'd1'], test=['d2']))
    return path


def _rewrite(path, **changes):
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    meta = json.loads(str(arrays['meta'][()]))
    meta.update(changes)
    arrays['meta'] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


@pytest.mark.parametrize('key, value, expected', [
    ('classes', 'joysad', 'a non-empty list of class names'),
    ('modalities', 'text', 'a list of modality names'),
    ('num_speakers', '2', 'an integer >= 1'),
    ('splits', ['d0'], 'a dict split -> list of dialogue ids'),
    ('speaker_names', 'AB', 'a list of names or null'),
    ('extra', [1], 'a dict or null'),
    ('version', '1', 'an integer or null'),
])
def test_meta_of_the_wrong_type_names_file_and_key(native, key, value, expected):
    load_native(native)  # the file as written is fine
    _rewrite(native, **{key: value})
    with pytest.raises(ValueError, match=rf"f\.npz: meta '{key}' must be {expected}"):
        load_native(native)
