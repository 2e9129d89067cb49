"""Anchor space: the projections are those the VEGA head scores, one map for all."""
import numpy as np
import pytest
import torch

from vega_mm.analysis import (anchor_points, anchor_space_embeddings, anchor_space_map,
                              anchor_space_summary, embed_2d, write_anchor_space_outputs)

CLASSES = ('happy', 'sad', 'neutral', 'anger', 'excited', 'frustration')


def test_nearest_centre_is_the_anchor_branch_prediction(tiny_model, tiny_loader):
    emb = anchor_space_embeddings(tiny_model, tiny_loader)
    anchors = anchor_points(tiny_model)
    np.testing.assert_allclose(np.linalg.norm(emb['projections'], axis=1), 1.0, atol=1e-5)
    # the model's own anchor-space predictions for the same utterances
    preds, labels = [], []
    with torch.no_grad():
        for batch in tiny_loader:
            for sample in tiny_model.test_step(batch):
                preds.append(sample.branch_pred_labels['anchor_fused'])
                labels.append(sample.gt_label)
    np.testing.assert_array_equal(emb['labels'], torch.cat(labels).numpy())
    nearest = (emb['projections'] @ anchors['centres'].T).argmax(1)
    np.testing.assert_array_equal(nearest, torch.cat(preds).numpy())
    bank = tiny_model.anchor_head.anchor_bank
    assert len(anchors['exemplars']) == int(bank.num_exemplars.sum())
    assert anchors['exemplar_labels'].tolist() == sorted(anchors['exemplar_labels'].tolist())


def test_map_places_every_point_and_writes_files(tiny_model, tiny_loader, tmp_path):
    result = anchor_space_map(tiny_model, tiny_loader, CLASSES, seed=0)
    n_utt = result['summary']['points']['utterances']
    n_ex = result['summary']['points']['exemplars']
    assert result['coords'].shape == (n_utt + len(CLASSES) + n_ex, 2)
    assert list(result['kinds']).count('centre') == len(CLASSES)
    paths = write_anchor_space_outputs(result['coords'], result['kinds'], result['labels'],
                                       CLASSES, result['summary'], str(tmp_path), 'map')
    lines = open(paths['csv']).read().splitlines()
    assert len(lines) == 1 + len(result['coords'])
    assert open(paths['png'], 'rb').read(4) == b'\x89PNG'


def test_summary_of_utterances_on_their_centres():
    centres = np.eye(3, 4)
    summary = anchor_space_summary(centres[[0, 1, 2, 2]], np.array([0, 1, 2, 2]), centres,
                                   ['a', 'b', 'c'])
    assert summary['nearest_centre']['accuracy'] == 100.0
    assert summary['mean_cosine_own_centre'] == {'a': 1.0, 'b': 1.0, 'c': 1.0}
    assert summary['num_utterances']['c'] == 2


def test_embed_2d_checks_its_input():
    points = np.random.default_rng(0).standard_normal((12, 5))
    assert embed_2d(points, seed=0).shape == (12, 2)  # perplexity lowered for 12 points
    with pytest.raises(ValueError, match='too few'):
        embed_2d(points[:3])
    with pytest.raises(ValueError, match="one of \\['tsne', 'umap'\\]"):
        embed_2d(points, method='pca')


def test_model_without_vega_head_is_refused(tiny_model):
    class NoHead(torch.nn.Module):
        anchor_head = None
    with pytest.raises(ValueError, match='no VEGA head'):
        anchor_points(NoHead())


def test_crowded_anchor_names_are_spread_inside_the_map():
    """Anchors that lie close together (e.g. the FER-CNN's) get their names on a half
    ring facing the map's middle, apart from each other and inside the map; apart
    anchors keep their names beside them."""
    import numpy as np

    from vega_mm.analysis.anchor_space import _label_places
    rng = np.random.default_rng(0)
    points = rng.uniform(0, 100, (500, 2))
    crowded = np.array([50.0, 95.0]) + rng.normal(0, 1.0, (7, 2))  # near the top edge
    places = _label_places(crowded, np.concatenate([points, crowded]))
    assert places is not None and places.shape == (7, 2)
    gaps = np.linalg.norm(places[:, None] - places[None], axis=-1)[~np.eye(7, dtype=bool)]
    assert gaps.min() > 8  # about a name's width apart
    assert (places >= 0).all() and (places <= 100).all()
    assert (places[:, 1] < crowded[:, 1].min()).all()  # on the side of the map's middle
    apart = np.array([[10.0, 10.0], [90.0, 10.0], [50.0, 90.0]])
    assert _label_places(apart, np.concatenate([points, apart])) is None
