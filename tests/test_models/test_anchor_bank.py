import pytest
import torch
import torch.nn.functional as F

from vega_mm.anchors.io import save_anchor_file
from vega_mm.models import AnchorBank


def _published_file(path, names, dim=6, k=3, seed=0):
    gen = torch.Generator().manual_seed(seed)
    feats = {n: F.normalize(torch.randn(k, dim, generator=gen), dim=-1) for n in names}
    torch.save({'anchor_center': torch.stack([f.mean(0) for f in feats.values()]),
                'anchor_img_dict': {n: {'feature': f} for n, f in feats.items()}}, path)
    return feats


def test_random_anchors_eval_uses_centres_and_train_samples_exemplars():
    bank = AnchorBank(num_classes=3, dim=8, random_anchors=True, num_exemplars=5,
                      sample_prob=1.0)
    bank.eval()
    torch.testing.assert_close(bank(), F.normalize(bank.centers, dim=-1))
    bank.train()
    anchors = bank()
    assert anchors.shape == (3, 8)
    torch.testing.assert_close(anchors.norm(dim=-1), torch.ones(3))
    for c in range(3):  # each row is one of that class's exemplars
        sims = anchors[c] @ bank.exemplars[c, :5].t()
        assert torch.isclose(sims.max(), torch.tensor(1.0), atol=1e-5)
    bank.sample_prob = 0.0
    torch.testing.assert_close(bank(), F.normalize(bank.centers, dim=-1))


def test_sampling_probability_is_respected():
    torch.manual_seed(0)
    bank = AnchorBank(num_classes=2, dim=4, random_anchors=True, sample_prob=0.4).train()
    centres = F.normalize(bank.centers, dim=-1)
    sampled = sum(not torch.allclose(bank(), centres) for _ in range(500))
    assert 150 < sampled < 250


def test_published_file_is_reordered_by_name_with_aliases(tmp_path):
    path = str(tmp_path / 'x_anchor.pt')
    feats = _published_file(path, ['Anger', 'joy', 'Neutral'])
    bank = AnchorBank(num_classes=3, dim=6, anchor_file=path,
                      class_names=['neutral', 'happy', 'angry'])
    torch.testing.assert_close(bank.centers[0], feats['Neutral'].mean(0))
    torch.testing.assert_close(bank.centers[1], feats['joy'].mean(0))
    torch.testing.assert_close(bank.centers[2], feats['Anger'].mean(0))
    assert bank.num_exemplars.tolist() == [3, 3, 3]


def test_mapping_missing_class_and_dimension_errors(tmp_path):
    path = str(tmp_path / 'a.pt')
    _published_file(path, ['happy', 'sad', 'angry', 'neutral'], dim=6)
    names = ['happy', 'sad', 'neutral', 'anger', 'excited', 'frustration']
    with pytest.raises(KeyError, match=r"\['excited', 'frustration'\]"):
        AnchorBank(num_classes=6, dim=6, anchor_file=path, class_names=names)
    bank = AnchorBank(num_classes=6, dim=6, anchor_file=path, class_names=names,
                      class_mapping={'excited': 'happy', 'frustration': 'angry'})
    torch.testing.assert_close(bank.centers[4], bank.centers[0])
    torch.testing.assert_close(bank.centers[5], bank.centers[3])
    with pytest.raises(ValueError, match=r"6-d anchors but the model expects dim=512"):
        AnchorBank(num_classes=6, dim=512, anchor_file=path, class_names=names,
                   class_mapping={'excited': 'happy', 'frustration': 'angry'})
    with pytest.raises(FileNotFoundError, match='nope.pt'):
        AnchorBank(num_classes=6, dim=6, anchor_file=str(tmp_path / 'nope.pt'))
    with pytest.raises(ValueError, match='needs dim'):
        AnchorBank(num_classes=6)


def test_nan_in_an_anchor_file_is_refused(tmp_path):
    path = str(tmp_path / 'nan.pt')
    bank = torch.randn(3, 4)
    bank[1, 2] = float('nan')
    good = torch.randn(2, 4)
    # written by other code (save_anchor_file refuses NaN), in the published format
    torch.save({'anchor_center': torch.stack([good.mean(0), bank.mean(0)]),
                'anchor_img_dict': {'a': {'feature': good}, 'b': {'feature': bank}}}, path)
    with pytest.raises(ValueError, match=r"nan.pt.*non-finite.*\['b'\]"):
        AnchorBank(num_classes=2, anchor_file=path, class_names=['a', 'b'])


def test_bank_built_from_shapes_is_filled_by_a_checkpoint(tmp_path):
    path = str(tmp_path / 'own.pt')
    save_anchor_file(path, ['a', 'b'], [torch.randn(5, 4), torch.randn(2, 4)])
    trained = AnchorBank(num_classes=2, anchor_file=path, class_names=['a', 'b'])
    assert trained.dim == 4  # the file's dimension when none is given
    empty = AnchorBank(num_classes=2, dim=4)  # no file: shapes only
    with pytest.raises(RuntimeError, match='AnchorBank is empty'):
        empty()
    empty.load_state_dict(trained.state_dict())
    torch.testing.assert_close(empty.eval()(), trained.eval()())
    assert empty.exemplars.shape == (2, 5, 4)


def test_hostile_anchor_file_is_refused(tmp_path):
    import os
    import pickle

    class Evil:
        def __reduce__(self):
            return (os.system, (f'touch {tmp_path}/pwned', ))

    path = tmp_path / 'evil.pt'
    with open(path, 'wb') as f:
        pickle.dump({'anchor_center': Evil()}, f)
    with pytest.raises(ValueError, match='evil.pt'):
        AnchorBank(num_classes=2, dim=4, anchor_file=str(path))
    assert not (tmp_path / 'pwned').exists()


def test_state_dict_round_trip_across_bank_sizes(tmp_path):
    path = str(tmp_path / 'own.pt')
    save_anchor_file(path, ['a', 'b'], [torch.randn(7, 4), torch.randn(2, 4)])
    trained = AnchorBank(num_classes=2, dim=4, anchor_file=path, class_names=['a', 'b'])
    other = AnchorBank(num_classes=2, dim=4, random_anchors=True, num_exemplars=3)
    other.load_state_dict(trained.state_dict())
    torch.testing.assert_close(other.centers, trained.centers)
    assert other.exemplars.shape == (2, 7, 4)
    assert other.num_exemplars.tolist() == [7, 2]


def test_bank_uses_the_file_centres_and_computes_them_without(tmp_path):
    """As the published model: the anchors in evaluation are the file's
    ``anchor_center``, even when it is not the mean of the exemplars (warned)."""
    path = str(tmp_path / 'moved.pt')
    feats = _published_file(path, ['happy', 'sad'], dim=6)
    raw = torch.load(path, weights_only=True)
    raw['anchor_center'][0] = F.normalize(torch.ones(6), dim=0)
    torch.save(raw, path)
    with pytest.warns(UserWarning, match=r"not the mean of the exemplars.*class 'happy'"):
        bank = AnchorBank(num_classes=2, dim=6, anchor_file=path, class_names=['sad', 'happy'])
    torch.testing.assert_close(bank.centers, raw['anchor_center'][[1, 0]])
    torch.testing.assert_close(bank.eval()(), F.normalize(raw['anchor_center'][[1, 0]], dim=-1))
    # a file without centres: the mean of the normalised exemplars
    del raw['anchor_center']
    torch.save(raw, path)
    bank = AnchorBank(num_classes=2, dim=6, anchor_file=path, class_names=['happy', 'sad'])
    torch.testing.assert_close(bank.centers[1], feats['sad'].mean(0))
