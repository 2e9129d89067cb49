"""The model zoo's graph backbones (DialogueGCN, MMGCN): the contract, padding, the
graphs against hand-built ones, PyG's layers and gradients (every zoo config training
one epoch and its checkpoints: test_zoo_configs.py)."""
import math
from pathlib import Path

import pytest
import torch

from tests.model_utils import DIMS
from vega_mm.registry import MODELS

pytest.importorskip('torch_geometric')

REPO = Path(__file__).parents[2]


def _tiny(kind: str, modalities=('text', 'audio', 'visual'), **kw):
    torch.manual_seed(0)
    dims = {m: DIMS[m] for m in modalities}
    if kind == 'DialogueGCNBackbone':
        cfg = dict(hidden_dim=8, context_dim=6, max_len=12, num_bases=3, dropout=0.1)
    else:
        cfg = dict(context_dim=6, graph_hidden=8, text_proj_dim=10, num_layers=4, dropout=0.1)
    cfg.update(kw)
    return MODELS.build(dict(type=kind, input_dims=dims, num_speakers=2, **cfg))


def _inputs(lengths=(6, 3, 1), modalities=('text', 'audio', 'visual'), seed=0, length=None):
    gen = torch.Generator().manual_seed(seed)
    L = length or max(lengths)
    feats = {m: torch.randn(len(lengths), L, DIMS[m], generator=gen) for m in modalities}
    mask = torch.arange(L)[None] < torch.tensor(lengths)[:, None]
    speakers = torch.randint(0, 2, (len(lengths), L), generator=gen)
    speakers[~mask] = 2
    return feats, mask, speakers


KINDS = ('DialogueGCNBackbone', 'MMGCNBackbone')


@pytest.mark.parametrize('kind', KINDS)
def test_contract_shapes(kind):
    net = _tiny(kind).eval()
    out = net(*_inputs())
    assert set(out) == {'text', 'audio', 'visual', 'fused'}
    width = 8 if kind == 'DialogueGCNBackbone' else 3 * (12 + 8)
    assert net.hidden_dim == width
    assert all(v.shape == (10, width) for v in out.values())
    text_only = _tiny(kind, ('text', )).eval()
    out = text_only(*_inputs(modalities=('text', )))
    assert set(out) == {'text', 'fused'} and out['fused'].shape[0] == 10


def test_mmgcn_modality_outputs_are_their_slices_of_fused():
    net = _tiny('MMGCNBackbone').eval()
    out = net(*_inputs())
    for k, m in enumerate(('text', 'audio', 'visual')):
        own = slice(20 * k, 20 * (k + 1))
        assert torch.equal(out[m][:, own], out['fused'][:, own])
        rest = torch.ones(60, dtype=torch.bool)
        rest[own] = False
        assert out[m][:, rest].abs().sum() == 0


@pytest.mark.parametrize('kind', KINDS)
def test_padding_never_reaches_real_utterances(kind):
    net = _tiny(kind).eval()
    lengths = (6, 3, 1)
    feats, mask, speakers = _inputs(lengths, length=8)
    batched = net(feats, mask, speakers)['fused']
    # garbage in the padding changes nothing
    noisy = {m: torch.where(mask[..., None], x, 1e3 * torch.randn_like(x))
             for m, x in feats.items()}
    assert torch.allclose(net(noisy, mask, speakers)['fused'], batched, atol=1e-5)
    # each dialogue alone gives its rows of the batch
    start = 0
    for b, n in enumerate(lengths):
        alone = net({m: x[b:b + 1, :n] for m, x in feats.items()}, mask[b:b + 1, :n],
                    speakers[b:b + 1, :n])['fused']
        assert torch.allclose(alone, batched[start:start + n], atol=1e-5), b
        start += n


@pytest.mark.parametrize('kind', KINDS)
def test_causal_is_refused_with_the_reason(kind):
    with pytest.raises(ValueError, match='cannot be causal'):
        _tiny(kind, causal=True)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match='max_len must be set'):
        _tiny('DialogueGCNBackbone', max_len=None)
    with pytest.raises(ValueError, match='window_past'):
        _tiny('DialogueGCNBackbone', window_past=-2)
    with pytest.raises(ValueError, match=r'hidden_dim=50 .* give 3 x .* = 60'):
        _tiny('MMGCNBackbone', hidden_dim=50)
    net = _tiny('DialogueGCNBackbone')
    with pytest.raises(ValueError, match='exceeds max_len=12'):
        net(*_inputs((13, 2)))
    feats, mask, speakers = _inputs((4, 2))
    mask[1, 0] = False   # a hole: not a prefix mask
    with pytest.raises(ValueError, match="first n positions"):
        net(feats, mask, speakers)


def test_dialoguegcn_graph_matches_a_hand_built_one():
    net = _tiny('DialogueGCNBackbone', window_past=1, window_future=2).eval()
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0]], dtype=torch.bool)
    speakers = torch.tensor([[0, 1, 0, 1], [1, 1, 2, 2]])
    g = torch.randn(2, 4, 12)
    edge_index, edge_type, weight = net.build_graph(g, mask, speakers)
    got = {(int(s), int(t)): int(r) for s, t, r in zip(*edge_index, edge_type)}
    # type = (speaker of i, speaker of j, i >= j) in the published order: 2 (2 s_i + s_j) + t
    expected = {
        (0, 0): 1, (0, 1): 2, (0, 2): 0,
        (1, 0): 5, (1, 1): 7, (1, 2): 4, (1, 3): 6,
        (2, 1): 3, (2, 2): 1, (2, 3): 2,
        (3, 2): 5, (3, 3): 7,
        (4, 4): 7, (4, 5): 6, (5, 4): 7, (5, 5): 7}
    assert got == expected
    # weights: softmax over the edges leaving i of w_i . g_j
    w = net.edge_attention.weight
    src = edge_index[0]
    for i, (b, pos) in enumerate([(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1)]):
        targets = edge_index[1][src == i]
        tpos = [t if t < 4 else t - 4 for t in targets.tolist()]
        logits = torch.stack([w[pos] @ g[b, t] for t in tpos])
        assert torch.allclose(weight[src == i], torch.softmax(logits, 0), atol=1e-6)


def test_mmgcn_graph_matches_the_dense_adjacency():
    net = _tiny('MMGCNBackbone', ('text', 'audio')).eval()
    mask = torch.tensor([[1, 1, 1], [1, 0, 0]], dtype=torch.bool)
    x = torch.randn(2, 4, 12)    # [M, N, D], modality-major nodes
    edge_index, weight = net.build_graph(x, mask)
    dense = torch.zeros(8, 8)
    dense[edge_index[1], edge_index[0]] = weight

    def sim(a, b):
        cos = torch.dot(a, b) / (a.norm() * b.norm())
        return 1 - math.acos(float(cos) * 0.99999) / math.pi

    A = torch.zeros(8, 8)
    dialogues = [[0, 1, 2], [3]]
    for m in range(2):
        for d in dialogues:
            for i in d:
                for j in d:
                    A[m * 4 + i, m * 4 + j] = sim(x[m, i], x[m, j])
    for i in range(4):   # the same utterance across modalities
        A[i, 4 + i] = A[4 + i, i] = sim(x[0, i], x[1, i])
    d = A.sum(1).pow(-0.5)
    expected = d[:, None] * A * d[None, :]
    assert torch.allclose(dense, expected, atol=1e-5)


def test_weighted_rgcn_is_pyg_rgcn_with_edge_weights():
    from torch_geometric.nn import RGCNConv

    from vega_mm.models.backbones import WeightedRGCNConv
    torch.manual_seed(0)
    for bases in (None, 2, 5):
        ours = WeightedRGCNConv(6, 4, num_relations=3, num_bases=bases)
        pyg = RGCNConv(6, 4, num_relations=3, num_bases=bases, aggr='add')
        pyg.load_state_dict(ours.state_dict())
        x = torch.randn(7, 6)
        edge_index = torch.randint(0, 7, (2, 20))
        edge_type = torch.randint(0, 3, (20, ))
        ones = torch.ones(20)
        assert torch.allclose(ours(x, edge_index, edge_type, ones),
                              pyg(x, edge_index, edge_type), atol=1e-5)
        # with weights: sum_j e_ji W_r x_j + W_0 x_i + b, edge by edge
        w = torch.rand(20)
        W = ours.relation_weights()
        expected = x @ ours.root + ours.bias
        expected = expected.index_add(
            0, edge_index[1],
            w[:, None] * torch.einsum('ei,eio->eo', x[edge_index[0]], W[edge_type]))
        assert torch.allclose(ours(x, edge_index, edge_type, w), expected, atol=1e-5)


@pytest.mark.parametrize('kind', KINDS)
def test_gradients_reach_every_parameter(kind):
    net = _tiny(kind).train()
    out = net(*_inputs())
    sum((v ** 2).sum() for v in out.values()).backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_without_pytorch_geometric_building_says_how_to_install_it():
    import subprocess
    import sys
    code = ("import sys; sys.modules['torch_geometric'] = None\n"
            "from vega_mm.registry import MODELS\n"
            "import vega_mm.models\n"
            "try:\n"
            "    MODELS.build(dict(type='DialogueGCNBackbone', input_dims=dict(text=4)))\n"
            "except ImportError as exc:\n"
            "    print(exc)\n")
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         cwd=REPO, timeout=300, env={**__import__('os').environ,
                                                     'PYTHONPATH': str(REPO)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert "DialogueGCNBackbone needs PyTorch Geometric: pip install 'vega_mm[graph]'" \
        in out.stdout
