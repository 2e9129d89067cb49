"""Anchor files: our format round trip, the published format, validation, selection."""
import pytest
import torch
import torch.nn.functional as F

from vega_mm.anchors import load_anchor_file, read_anchors, save_anchor_file


def _bank(k: int, d: int = 8, seed: int = 0) -> torch.Tensor:
    return F.normalize(torch.randn(k, d, generator=torch.Generator().manual_seed(seed)), dim=-1)


def test_round_trip_keeps_everything(tmp_path):
    names = ['angry', 'happy', 'sad']
    exemplars = [_bank(3, seed=0), _bank(5, seed=1), _bank(1, seed=2)]
    meta = dict(encoder=dict(type='OpenCLIPImageEncoder', model='ViT-B-32',
                             weights='/w.safetensors', weights_sha256='ab' * 32),
                images={'angry': ['angry/1.jpg']}, face_detector=None)
    path = tmp_path / 'sub' / 'anchors.pt'
    save_anchor_file(str(path), names, exemplars, meta)
    # the published keys are there, readable with weights_only=True
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {'anchor_center', 'anchor_img_dict', 'meta'}
    assert list(raw['anchor_img_dict']) == names
    data = load_anchor_file(str(path))
    assert data['class_names'] == names
    for got, want in zip(data['exemplars'], exemplars):
        assert torch.equal(got, want)
    torch.testing.assert_close(data['centers'], torch.stack([e.mean(0) for e in exemplars]))
    assert data['meta']['encoder'] == meta['encoder']
    assert data['meta']['dim'] == 8 and data['meta']['class_names'] == names
    assert data['meta']['format'] == 'vega_mm.anchors'


def test_published_format_is_read(tmp_path):
    """A hand-made file laid out like the published ``*_anchor.pt`` (no meta)."""
    img_dict = {'neutral': {'feature': _bank(4, 512, 0)},
                'happy': {'feature': _bank(6, 512, 1)},
                'sad': {'feature': _bank(2, 512, 2).half()}}   # other dtypes occur too
    centers = torch.stack([v['feature'].float().mean(0) for v in img_dict.values()])
    path = tmp_path / 'iemocap_anchor.pt'
    torch.save({'anchor_center': centers, 'anchor_img_dict': img_dict}, path)
    data = load_anchor_file(str(path))
    assert data['class_names'] == ['neutral', 'happy', 'sad']
    assert data['meta'] == {}
    assert data['centers'].dtype == torch.float32 and data['centers'].shape == (3, 512)
    assert [e.shape[0] for e in data['exemplars']] == [4, 6, 2]
    assert all(e.dtype == torch.float32 for e in data['exemplars'])


def test_published_class_without_bank_uses_centre(tmp_path):
    centers = _bank(2, 16)
    path = tmp_path / 'a.pt'
    torch.save({'anchor_center': centers,
                'anchor_img_dict': {'joy': {'feature': _bank(3, 16)}, 'anger': {}}}, path)
    with pytest.raises(ValueError, match=r"anchor_img_dict\['anger'\] has no 'feature'"):
        load_anchor_file(str(path))
    torch.save({'anchor_center': centers, 'anchor_img_dict': {'joy': {'feature': _bank(3, 16)}},
                'meta': {'class_names': ['joy', 'anger']}}, path)
    data = load_anchor_file(str(path))
    assert torch.equal(data['exemplars'][1], centers[1:2])


@pytest.mark.parametrize('obj, match', [
    ([1, 2], 'expected a dict'),
    ({'centers': torch.zeros(2, 3)}, "keys 'anchor_center'"),
    ({'anchor_center': torch.zeros(6)}, r'must be \[C, D\]'),
    ({'anchor_center': torch.zeros(2, 4), 'anchor_img_dict': {'a': {'feature': torch.zeros(3, 4)}}},
     'has 2 rows but 1 classes'),
    ({'anchor_center': torch.zeros(1, 4), 'anchor_img_dict': {'a': {'feature': torch.zeros(3, 5)}}},
     r"\['a'\]\['feature'\] must be \[K, 4\]"),
])
def test_malformed_files_are_rejected_with_the_file_named(tmp_path, obj, match):
    path = tmp_path / 'bad.pt'
    torch.save(obj, path)
    with pytest.raises(ValueError, match=match) as err:
        load_anchor_file(str(path))
    assert str(path) in str(err.value)


class _Evil:
    def __reduce__(self):
        return (print, ('pwned',))


def test_non_tensor_pickles_are_refused(tmp_path, capsys):
    path = tmp_path / 'evil.pt'
    torch.save({'anchor_center': torch.zeros(1, 2), 'payload': _Evil()}, path)
    with pytest.raises(ValueError, match='tensor-only'):
        load_anchor_file(str(path))
    assert 'pwned' not in capsys.readouterr().out
    (tmp_path / 'text.pt').write_text('hello')
    with pytest.raises(ValueError, match='text.pt'):
        load_anchor_file(str(tmp_path / 'text.pt'))
    with pytest.raises(FileNotFoundError, match='missing.pt'):
        load_anchor_file(str(tmp_path / 'missing.pt'))


def test_save_validates(tmp_path):
    with pytest.raises(ValueError, match='2 class names but 1'):
        save_anchor_file(str(tmp_path / 'x.pt'), ['a', 'b'], [_bank(2)])
    with pytest.raises(ValueError, match="class 'b'"):
        save_anchor_file(str(tmp_path / 'x.pt'), ['a', 'b'], [_bank(2), torch.zeros(0, 8)])
    with pytest.raises(ValueError, match='repeated'):
        save_anchor_file(str(tmp_path / 'x.pt'), ['a', 'a'], [_bank(2), _bank(2)])


def test_read_anchors_reorders_by_name_and_checks_dim(tmp_path):
    path = str(tmp_path / 'fer.pt')
    names = ['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise']
    banks = [_bank(i + 1, 8, seed=i) for i in range(7)]
    save_anchor_file(path, names, banks)
    meld = ['neutral', 'surprise', 'fear', 'sadness', 'joy', 'disgust', 'anger']
    got_names, exemplars, meta, centers = read_anchors(path, meld, num_classes=7, dim=8)
    want = [4, 6, 2, 5, 3, 1, 0]
    assert got_names == meld and meta['class_names'] == names
    for e, i in zip(exemplars, want):
        torch.testing.assert_close(e, banks[i])
    torch.testing.assert_close(centers, torch.stack([banks[i].mean(0) for i in want]))

    iemocap = ['happy', 'sad', 'neutral', 'anger', 'excited', 'frustration']
    with pytest.raises(KeyError) as err:
        read_anchors(path, iemocap)
    assert 'excited' in str(err.value) and 'frustration' in str(err.value)
    _, exemplars, _, _ = read_anchors(path, iemocap, class_mapping={'excited': 'happy',
                                                                 'frustration': 'angry'})
    torch.testing.assert_close(exemplars[4], exemplars[0])
    torch.testing.assert_close(exemplars[5], exemplars[3])
    with pytest.raises(ValueError, match='fer.pt.*holds 8-d anchors but the model expects '
                                         'dim=512'):
        read_anchors(path, meld, dim=512)
    with pytest.raises(ValueError, match='class_names has 7 entries but the model has '
                                         'num_classes=6'):
        read_anchors(path, meld, num_classes=6)
    # without class names, the file's order is the dataset's (and the counts must agree)
    with pytest.warns(UserWarning, match='taken as the dataset class order'):
        assert read_anchors(path)[0] == names
    with pytest.raises(ValueError, match='has 7 classes .* but the model has 6'):
        read_anchors(path, num_classes=6)


def _published(path, centers, img_dict, **extra):
    torch.save(dict({'anchor_center': centers, 'anchor_img_dict': img_dict}, **extra), path)
    return str(path)


@pytest.mark.parametrize('value, what', [
    (1e30, r'has a norm of inf in float32 \(largest \|value\| 1e\+30\)'),
    (1e-30, r'has a norm of 0\.0 in float32'),
    (0.0, 'is all zeros'),
    (float('inf'), r'non-finite values \(NaN or Inf\)'),
    (float('nan'), r'non-finite values \(NaN or Inf\)'),
])
def test_anchors_that_would_normalise_to_zero_are_refused(tmp_path, value, what):
    bank = _bank(3, 8)
    bank[1] = value
    path = _published(tmp_path / 'huge.pt', torch.stack([_bank(2, 8).mean(0), bank.mean(0)]),
                      {'happy': {'feature': _bank(2, 8)}, 'sad': {'feature': bank}})
    with pytest.raises(ValueError, match=r"huge\.pt.*" + what) as err:
        load_anchor_file(path)
    msg = str(err.value)
    assert "anchor_img_dict['sad']['feature']" in msg and "class 'sad'" in msg
    # the same in a centre row (a class whose centre is its only anchor)
    centers = _bank(2, 8)
    centers[0] = value
    path = _published(tmp_path / 'c.pt', centers, {'sad': {'feature': _bank(2, 8)}},
                      meta={'class_names': ['happy', 'sad']})
    with pytest.raises(ValueError, match=r"c\.pt.*" + what) as err:
        load_anchor_file(path)
    assert "'anchor_center'[0]" in str(err.value) and "class 'happy'" in str(err.value)


def test_two_names_of_one_class_are_an_error_naming_both(tmp_path):
    path = _published(tmp_path / 'alias.pt', _bank(3, 8),
                      {'happy': {'feature': _bank(2, 8)}, 'sad': {'feature': _bank(2, 8)},
                       'joy': {'feature': _bank(2, 8)}})
    with pytest.raises(ValueError, match=r"alias\.pt.*'happy' and 'joy' are the same class"):
        load_anchor_file(path)
    with pytest.raises(ValueError, match=r"'happy' and 'joy' are the same class"):
        read_anchors(path, ['happy', 'sad'])


@pytest.mark.parametrize('obj, match', [
    ({'anchor_center': 'oops', 'anchor_img_dict': {}},
     r"'anchor_center' must be a float Tensor\[C, D\], got str 'oops'"),
    ({'anchor_center': torch.ones(1, 4), 'anchor_img_dict': {'happy': {'feature': 'x.jpg'}}},
     r"anchor_img_dict\['happy'\]\['feature'\] must be a float Tensor\[K, 4\], got str"),
    ({'anchor_center': torch.ones(1, 4), 'anchor_img_dict': {'happy': ['a', 'b']}},
     r"anchor_img_dict\['happy'\] must be a float Tensor\[K, 4\], got list"),
    ({'anchor_center': torch.ones(1, 4), 'anchor_img_dict': {'happy': {'feature': {'a': 1}}}},
     r"\['feature'\] must be a float Tensor\[K, 4\], got dict"),
    ({'anchor_center': torch.ones(1, 4, dtype=torch.bool), 'anchor_img_dict': {'happy': None}},
     r"'anchor_center' must be a float Tensor\[C, D\], got a torch.bool tensor"),
    ({'anchor_center': torch.ones(1, 4), 'anchor_img_dict': 'happy'},
     r"'anchor_img_dict' must be a dict .*got str 'happy'"),
    ({'anchor_center': torch.ones(1, 4), 'anchor_img_dict': {}, 'meta': 'v1'},
     r"'meta' must be a dict, got str 'v1'"),
    ({'anchor_center': torch.ones(1, 4), 'meta': {'class_names': 'happy'}},
     r"meta\['class_names'\] must be a list of strings, got str"),
])
def test_values_of_the_wrong_kind_name_the_file_key_and_expectation(tmp_path, obj, match):
    path = tmp_path / 'kind.pt'
    torch.save(obj, path)
    with pytest.raises(ValueError, match=r'kind\.pt.*' + match):
        load_anchor_file(str(path))


def test_file_centres_are_returned_and_a_disagreement_is_warned(tmp_path, recwarn):
    banks = {'happy': _bank(4, 8, 0), 'sad': _bank(3, 8, 1)}
    means = torch.stack([b.mean(0) for b in banks.values()])
    path = _published(tmp_path / 'agree.pt', means, {n: {'feature': b} for n, b in banks.items()})
    _, _, _, centers = read_anchors(path, ['sad', 'happy'])
    torch.testing.assert_close(centers, means[[1, 0]])
    assert not [w for w in recwarn if 'not the mean' in str(w.message)]
    moved = means.clone()
    moved[1] = _bank(1, 8, 7)[0]  # a centre that is not its exemplars' mean
    path = _published(tmp_path / 'moved.pt', moved, {n: {'feature': b} for n, b in banks.items()})
    with pytest.warns(UserWarning, match=r"moved\.pt.*'anchor_center' is not the mean of the "
                      r"exemplars \(cosine distance up to [0-9.]+, class 'sad'"):
        _, _, _, centers = read_anchors(path, ['happy', 'sad'])
    torch.testing.assert_close(centers, moved)


def test_a_file_without_centres_gets_the_exemplar_means(tmp_path):
    banks = {'happy': _bank(4, 8, 0) * 3, 'sad': _bank(3, 8, 1)}
    path = tmp_path / 'nocentre.pt'
    torch.save({'anchor_img_dict': {n: {'feature': b} for n, b in banks.items()}}, path)
    data = load_anchor_file(str(path))
    assert data['centers_from_file'] is False and data['class_names'] == ['happy', 'sad']
    torch.testing.assert_close(data['centers'][0], F.normalize(banks['happy'], dim=-1).mean(0))
    assert read_anchors(str(path), ['sad', 'happy'])[3] is None
