"""The VEGA anchor space: projected utterances, class anchors and exemplars in 2-D."""
import csv
import json
import os
import os.path as osp
from typing import Dict, Iterable, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from vega_mm.evaluation.metrics import erc_scores
from .figures import class_colors, new_figure, save_figure

__all__ = ['EMBEDDING_METHODS', 'anchor_space_embeddings', 'anchor_points', 'embed_2d',
           'anchor_space_map', 'anchor_space_summary', 'plot_anchor_space',
           'write_anchor_space_outputs']

#: 2-D maps: t-SNE (scikit-learn) and UMAP (the optional ``umap-learn`` package).
EMBEDDING_METHODS = ('tsne', 'umap')


def _vega_head(model: torch.nn.Module, branch: str):
    head = getattr(model, 'anchor_head', None)
    if head is None:
        raise ValueError('the model has no VEGA head (model.head.vega_head=None): it has '
                         'no anchor space to draw; use a VEGA config')
    if branch not in head.projections:
        raise ValueError(f'the VEGA head has no branch {branch!r}; it has '
                         f'{list(head.projections)}')
    return head


@torch.no_grad()
def anchor_space_embeddings(model: torch.nn.Module, dataloader: Iterable,
                            branch: str = 'fused') -> Dict[str, np.ndarray]:
    """The anchor-space projections of every real utterance of a dataloader.

    For each batch: the model's data preprocessor, backbone and the VEGA head's
    projection of ``branch`` (``model.anchor_head.projections[branch]``), L2-normalised, which
    is what the head compares with the anchors.

    Args:
        model: a ``ConversationClassifier`` with a VEGA head, in eval mode.
        dataloader: yields collated batches (e.g. ``Runner.build_dataloader``).
        branch: ``'fused'`` or a modality.

    Returns:
        ``projections`` float32 [N, D] and ``labels`` int64 [N] (-1 = unlabelled), the
        utterances in dataloader and dialogue order.
    """
    head = _vega_head(model, branch)
    projections, labels = [], []
    for batch in dataloader:
        data = model.data_preprocessor(batch, False)
        inputs = data['inputs']
        flat = model.extract_feat(inputs)[branch]  # [N, H], the real utterances
        projections.append(F.normalize(head.projections[branch](flat), dim=-1).float().cpu())
        labels.extend(torch.cat([s.gt_label.reshape(-1).cpu() for s in data['data_samples']])
                      .tolist())
    if not projections:
        raise ValueError('the dataloader gave no batches: nothing to project')
    return dict(projections=torch.cat(projections).numpy(),
                labels=np.asarray(labels, dtype=np.int64))


def anchor_points(model: torch.nn.Module) -> Dict[str, np.ndarray]:
    """The class anchors of the model's VEGA head, L2-normalised.

    Returns:
        ``centres`` [C, D] (what evaluation compares with), ``exemplars`` [M, D] and
        ``exemplar_labels`` [M] (the class of each exemplar).
    """
    bank = _vega_head(model, 'fused').anchor_bank
    was_training = bank.training
    bank.eval()  # evaluation anchors: the centres, never a random exemplar draw
    with torch.no_grad():
        centres = bank().float().cpu()
    bank.train(was_training)
    counts = bank.num_exemplars.cpu().tolist()
    exemplars = torch.cat([bank.exemplars[c, :k] for c, k in enumerate(counts)]).float()
    labels = np.repeat(np.arange(len(counts)), counts)
    return dict(centres=centres.numpy(),
                exemplars=F.normalize(exemplars, dim=-1).cpu().numpy(),
                exemplar_labels=labels.astype(np.int64))


def embed_2d(points: np.ndarray, method: str = 'tsne', seed: int = 0,
             perplexity: float = 30.0) -> np.ndarray:
    """A 2-D map of all points at once, so that every kind of point shares one map.

    Args:
        points: [N, D].
        method: ``'tsne'`` (scikit-learn) or ``'umap'`` (needs ``umap-learn``).
        seed: the map's random state.
        perplexity: t-SNE perplexity (lowered to ``(N - 1) / 3`` for few points).

    Returns:
        [N, 2] coordinates.
    """
    if method not in EMBEDDING_METHODS:
        raise ValueError(f'method must be one of {list(EMBEDDING_METHODS)}, got {method!r}')
    if len(points) < 5:
        raise ValueError(f'{len(points)} points are too few for a 2-D map (need 5)')
    if method == 'umap':
        try:
            import umap
        except ImportError as exc:
            raise ImportError('method="umap" needs the umap-learn package '
                              '(pip install umap-learn); or use method="tsne"') from exc
        return umap.UMAP(n_components=2, random_state=seed).fit_transform(points)
    from sklearn.manifold import TSNE
    perplexity = min(perplexity, (len(points) - 1) / 3.0)
    return TSNE(n_components=2, perplexity=perplexity, init='pca',
                random_state=seed).fit_transform(points)


def anchor_space_map(model: torch.nn.Module, dataloader: Iterable,
                     classes: Sequence[str], method: str = 'tsne', seed: int = 0,
                     branch: str = 'fused') -> Dict[str, object]:
    """Utterances, centres and exemplars mapped to 2-D together, with the summary.

    One map is fitted on all points at once (t-SNE has no transform for new points),
    so anchors and utterances are placed by the same map.

    Returns:
        ``coords`` [N, 2], ``kinds`` [N] (``'utterance'``, ``'centre'``,
        ``'exemplar'``), ``labels`` [N] (class index, -1 = unlabelled) and ``summary``
        (:func:`anchor_space_summary` plus the counts and the method).
    """
    utt = anchor_space_embeddings(model, dataloader, branch)
    anchors = anchor_points(model)
    if len(classes) != len(anchors['centres']):
        raise ValueError(f'{len(classes)} class names for {len(anchors["centres"])} '
                         'anchors')
    points = np.concatenate([utt['projections'], anchors['centres'], anchors['exemplars']])
    kinds = (['utterance'] * len(utt['projections']) + ['centre'] * len(classes) +
             ['exemplar'] * len(anchors['exemplars']))
    labels = np.concatenate([utt['labels'], np.arange(len(classes)),
                             anchors['exemplar_labels']])
    summary = anchor_space_summary(utt['projections'], utt['labels'], anchors['centres'],
                                   classes)
    summary.update(method=method, seed=seed, branch=branch,
                   points=dict(utterances=len(utt['projections']), centres=len(classes),
                               exemplars=len(anchors['exemplars'])))
    return dict(coords=embed_2d(points, method, seed), kinds=kinds, labels=labels,
                summary=summary)


def anchor_space_summary(projections: np.ndarray, labels: np.ndarray,
                         centres: np.ndarray, classes: Sequence[str]) -> Dict[str, object]:
    """How the utterances sit relative to the class centres, in the original space.

    The nearest centre (largest cosine) is the anchor branch's prediction in evaluation
    (its logits are ``logit_scale * cos``), scored with the metric's maths.

    Returns:
        ``nearest_centre`` scores (accuracy, weighted_f1, macro_f1, per_class_f1, in %),
        ``mean_cosine_own_centre`` and ``mean_cosine_other_centres`` per class, and
        ``num_utterances`` per class.
    """
    cos = projections @ centres.T
    scores = erc_scores(labels, cos.argmax(1), len(classes))
    own, other, count = {}, {}, {}
    for c, name in enumerate(classes):
        rows = cos[labels == c]
        count[name] = int(len(rows))
        own[name] = float(rows[:, c].mean()) if len(rows) else None
        others = np.delete(rows, c, axis=1)
        other[name] = float(others.mean()) if len(rows) else None
    return dict(nearest_centre=dict(
                    accuracy=float(scores['accuracy']),
                    weighted_f1=float(scores['weighted_f1']),
                    macro_f1=float(scores['macro_f1']),
                    per_class_f1=dict(zip(classes, map(float, scores['per_class_f1'])))),
                mean_cosine_own_centre=own, mean_cosine_other_centres=other,
                num_utterances=count)


def _label_places(centres: np.ndarray, points: np.ndarray) -> Optional[np.ndarray]:
    """Where to write the class names when the centres crowd (two closer than 6% of
    the map's span): on a ring around the centres, each in the direction of its centre
    from their mean, spaced evenly on the half facing the map's middle; None when they
    do not crowd."""
    span = float(np.ptp(points, axis=0).max()) or 1.0
    if len(centres) < 2:
        return None
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1)
    if gaps[~np.eye(len(centres), dtype=bool)].min() >= 0.06 * span:
        return None
    middle = centres.mean(0)
    low, high = points.min(0), points.max(0)
    # an arc on the side of the map's middle, so names stay inside and off the centres
    towards = np.arctan2(*((low + high) / 2 - middle)[::-1])
    if np.allclose((low + high) / 2, middle):
        towards = -np.pi / 2
    angles = np.arctan2(*(centres - middle).T[::-1])
    order = np.argsort((angles - towards + np.pi) % (2 * np.pi))
    spread = towards - np.pi / 2 + np.pi * (np.arange(len(centres)) + 0.5) / len(centres)
    # wide enough for a name every ~10% of the span along the half ring
    radius = max(0.06 * span + float(np.linalg.norm(centres - middle, axis=1).max()),
                 0.035 * span * len(centres))
    places = np.empty_like(centres, dtype=float)
    places[order] = middle + radius * np.stack([np.cos(spread), np.sin(spread)], 1)
    return np.clip(places, low + 0.03 * span, high - 0.03 * span)


def plot_anchor_space(utterances: np.ndarray, labels: np.ndarray, centres: np.ndarray,
                      exemplars: np.ndarray, exemplar_labels: np.ndarray,
                      classes: Sequence[str], title: str = 'Anchor space'):
    """Utterances (dots, coloured by true class), exemplars (crosses) and class
    centres (stars, named), all in 2-D coordinates from one map.

    Returns:
        A matplotlib ``Figure``.
    """
    from matplotlib.lines import Line2D
    colors = class_colors(len(classes))
    fig = new_figure((9.0, 7.5))
    ax = fig.subplots()
    for c, name in enumerate(classes):
        pts = utterances[labels == c]
        ax.scatter(pts[:, 0], pts[:, 1], s=14, color=colors[c], alpha=0.7,
                   linewidths=0, label=f'{name} ({len(pts)})')
    unlabelled = utterances[labels < 0]
    if len(unlabelled):
        ax.scatter(unlabelled[:, 0], unlabelled[:, 1], s=8, color='lightgrey',
                   label=f'unlabelled ({len(unlabelled)})')
    for c in range(len(classes)):
        pts = exemplars[exemplar_labels == c]
        # above the centres: exemplars often lie close to their class centre
        ax.scatter(pts[:, 0], pts[:, 1], s=40, marker='X', color=colors[c],
                   edgecolors='black', linewidths=0.6, zorder=7)
    places = _label_places(centres, np.concatenate([utterances, exemplars, centres]))
    for c, name in enumerate(classes):
        ax.scatter(centres[c, 0], centres[c, 1], s=320, marker='*', color=colors[c],
                   edgecolors='black', linewidths=1.2, zorder=5)
        box = dict(boxstyle='round,pad=0.2', fc='white', alpha=0.85, lw=0)
        if places is None:
            ax.annotate(name, centres[c], xytext=(7, 7), textcoords='offset points',
                        fontsize=10, fontweight='bold', zorder=6, bbox=box)
        else:  # crowded centres: names on a ring around them, with leader lines
            ax.annotate(name, centres[c], xytext=places[c], textcoords='data',
                        fontsize=10, fontweight='bold', zorder=8, bbox=box,
                        ha='center', va='center',
                        arrowprops=dict(arrowstyle='-', color=colors[c], lw=1.2))
    # figure legends 'outside' the axes: the constrained layout makes room for them
    fig.legend(*ax.get_legend_handles_labels(), title='utterances (true class)',
               fontsize=8, loc='outside right upper')
    fig.legend(handles=[
        Line2D([], [], marker='o', ls='', color='grey', label='utterance'),
        Line2D([], [], marker='X', ls='', color='grey', mec='black', label='anchor exemplar'),
        Line2D([], [], marker='*', ls='', color='grey', mec='black', markersize=14,
               label='class anchor (centre)')],
        fontsize=8, loc='outside right lower', title='markers')
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title)
    return fig


def write_anchor_space_outputs(coords: np.ndarray, kinds: Sequence[str],
                               point_labels: np.ndarray, classes: Sequence[str],
                               summary: Dict[str, object], out_dir: str, title: str,
                               prefix: str = 'anchor_space') -> Dict[str, str]:
    """Write ``{prefix}.png``, ``{prefix}.csv`` (x, y, kind, class of every point) and
    ``{prefix}.json`` (the summary) into ``out_dir``.

    Args:
        coords: [N, 2] map of all points; ``kinds[i]`` is ``'utterance'``,
            ``'centre'`` or ``'exemplar'`` and ``point_labels[i]`` its class (-1: none).
    """
    os.makedirs(out_dir, exist_ok=True)
    kinds = np.asarray(kinds)
    point_labels = np.asarray(point_labels)
    pick = {k: kinds == k for k in ('utterance', 'centre', 'exemplar')}
    fig = plot_anchor_space(coords[pick['utterance']], point_labels[pick['utterance']],
                            coords[pick['centre']], coords[pick['exemplar']],
                            point_labels[pick['exemplar']], classes, title)
    paths = {ext: osp.join(out_dir, f'{prefix}.{ext}') for ext in ('png', 'csv', 'json')}
    save_figure(fig, paths['png'])
    with open(paths['csv'], 'w', newline='') as f:
        writer = csv.writer(f)
        writer.writerow(['x', 'y', 'kind', 'class'])
        for (x, y), kind, label in zip(coords, kinds, point_labels):
            writer.writerow([f'{x:.5f}', f'{y:.5f}', kind,
                             classes[label] if label >= 0 else ''])
    with open(paths['json'], 'w') as f:
        json.dump(summary, f, indent=1)
    return paths
