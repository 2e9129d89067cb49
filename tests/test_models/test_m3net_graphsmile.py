"""The model zoo's part 2 (M3Net, GraphSmile): the contract, padding, the graphs against
hand-built ones, the PyG layers against the published formulas, GraphSmile's
sentiment-dynamics head (derived and shipped sentiments) and gradients (every zoo
config training one epoch and its checkpoints: test_zoo_configs.py)."""
import math
from itertools import permutations, product

import pytest
import torch
import torch.nn.functional as F

from tests.model_utils import DIMS
from vega_mm.registry import MODELS

pytest.importorskip('torch_geometric')

KINDS = ('M3NetBackbone', 'GraphSmileBackbone')
ALL = ('text', 'audio', 'visual')


def _tiny(kind: str, modalities=ALL, **kw):
    torch.manual_seed(0)
    dims = {m: DIMS[m] for m in modalities}
    if kind == 'M3NetBackbone':
        cfg = dict(node_dim=10, graph_hidden=6, num_hyper_layers=2, num_gated_layers=2,
                   dropout=0.1)
    else:
        cfg = dict(hidden_dim=6, window_past=2, window_future=1, num_layers=(2, 3, 2),
                   dropout=0.1, max_edges=2000)
    cfg.update(kw)
    return MODELS.build(dict(type=kind, input_dims=dims, num_speakers=2, **cfg))


def _inputs(lengths=(6, 3, 1), modalities=ALL, seed=0, length=None):
    gen = torch.Generator().manual_seed(seed)
    L = length or max(lengths)
    feats = {m: torch.randn(len(lengths), L, DIMS[m], generator=gen) for m in modalities}
    mask = torch.arange(L)[None] < torch.tensor(lengths)[:, None]
    speakers = torch.randint(0, 2, (len(lengths), L), generator=gen)
    speakers[~mask] = 2
    return feats, mask, speakers


def _randomise_position_weights(net):
    """Learned per-position weights away from their initial ones (as after training)."""
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name in ('hyperedge_weight', 'node_weight') or name.endswith('edge_weight'):
                p.uniform_(0.5, 1.5)


@pytest.mark.parametrize('kind', KINDS)
def test_contract_shapes(kind):
    net = _tiny(kind).eval()
    out = net(*_inputs())
    assert set(out) == {'text', 'audio', 'visual', 'fused'}
    width = 3 * 2 * 6 if kind == 'M3NetBackbone' else 6
    assert net.hidden_dim == width
    assert all(v.shape == (10, width) for v in out.values())
    for mods in (('text', ), ('audio', 'visual')):
        net = _tiny(kind, mods).eval()
        out = net(*_inputs(modalities=mods))
        assert set(out) == {*mods, 'fused'} and out['fused'].shape[0] == 10


def test_m3net_modality_outputs_are_their_slices_of_fused():
    out = _tiny('M3NetBackbone').eval()(*_inputs())
    for k, m in enumerate(ALL):
        own = slice(12 * k, 12 * (k + 1))
        assert torch.equal(out[m][:, own], out['fused'][:, own])
        rest = torch.ones(36, dtype=torch.bool)
        rest[own] = False
        assert out[m][:, rest].abs().sum() == 0


def test_graphsmile_modality_outputs_add_up_to_fused():
    out = _tiny('GraphSmileBackbone').eval()(*_inputs())
    assert torch.allclose(out['text'] + out['audio'] + out['visual'], out['fused'], atol=1e-6)
    assert not torch.allclose(out['text'], out['audio'])


@pytest.mark.parametrize('kind', KINDS)
def test_padding_never_reaches_real_utterances(kind):
    net = _tiny(kind)
    lengths = (6, 3, 1)
    feats, mask, speakers = _inputs(lengths, length=8)
    noisy = {m: torch.where(mask[..., None], x, 1e3 * torch.randn_like(x))
             for m, x in feats.items()}
    # training mode too: the BatchNorm statistics count the real utterances only
    for mode in (True, False):
        net.train(mode)
        torch.manual_seed(1)
        clean = net(feats, mask, speakers)['fused']
        torch.manual_seed(1)
        assert torch.allclose(net(noisy, mask, speakers)['fused'], clean, atol=1e-5), mode
    # each dialogue alone gives its rows of the batch (the learned per-position weights
    # at their initial value 1: a dialogue's positions depend on the dialogues before it)
    net.eval()
    batched = net(feats, mask, speakers)['fused']
    start = 0
    for b, n in enumerate(lengths):
        alone = net({m: x[b:b + 1, :n] for m, x in feats.items()}, mask[b:b + 1, :n],
                    speakers[b:b + 1, :n])['fused']
        assert torch.allclose(alone, batched[start:start + n], atol=1e-5), b
        start += n
    # with trained (non-uniform) position weights padding still changes nothing
    _randomise_position_weights(net)
    assert torch.allclose(net(noisy, mask, speakers)['fused'],
                          net(feats, mask, speakers)['fused'], atol=1e-5)


@pytest.mark.parametrize('kind', KINDS)
def test_causal_is_refused_with_the_reason(kind):
    with pytest.raises(ValueError, match='cannot be causal'):
        _tiny(kind, causal=True)


def test_bad_settings_are_named():
    with pytest.raises(ValueError, match=r'hidden_dim=50 .* = 36'):
        _tiny('M3NetBackbone', hidden_dim=50)
    with pytest.raises(ValueError, match=r'input_dims\["text"\] \(12\) must equal node_dim'):
        _tiny('M3NetBackbone', text_proj=False)
    with pytest.raises(ValueError, match='window_past'):
        _tiny('GraphSmileBackbone', window_past=-2)
    with pytest.raises(ValueError, match='num_layers'):
        _tiny('GraphSmileBackbone', num_layers=(2, 2))
    net = _tiny('M3NetBackbone', max_hyperedges=10)
    with pytest.raises(ValueError, match='max_hyperedges=10'):
        net(*_inputs())
    net = _tiny('GraphSmileBackbone', max_edges=20)
    with pytest.raises(ValueError, match='max_edges=20'):
        net(*_inputs())
    feats, mask, speakers = _inputs((4, 2))
    mask[1, 0] = False
    with pytest.raises(ValueError, match='first n positions'):
        _tiny('GraphSmileBackbone')(feats, mask, speakers)


# ---------------------------------------------------------------- graphs vs hand-built
def test_m3net_graphs_match_the_published_construction():
    """The published create_hyper_index / create_gnn_index, written out for dialogues of
    3 and 2 utterances and three modalities (nodes per dialogue: l, a, v)."""
    net = _tiny('M3NetBackbone')
    mask = torch.tensor([[1, 1, 1], [1, 1, 0]], dtype=torch.bool)
    # nodes: dialogue 0 -> l 0-2, a 3-5, v 6-8; dialogue 1 -> l 9-10, a 11-12, v 13-14
    nodes = net.node_numbers(mask)
    assert nodes.tolist() == [[0, 1, 2, 9, 10], [3, 4, 5, 11, 12], [6, 7, 8, 13, 14]]
    index, num_edges = net.build_hypergraph(mask)
    got = {(int(v), int(e)) for v, e in index.t()}
    expected = set()
    edge = 0
    for start, n in ((0, 3), (9, 2)):
        mods = [list(range(start + k * n, start + (k + 1) * n)) for k in range(3)]
        for m in mods:                       # one hyperedge per modality
            expected |= {(v, edge) for v in m}
            edge += 1
        for t in range(n):                   # one per utterance
            expected |= {(m[t], edge) for m in mods}
            edge += 1
    assert got == expected and num_edges == edge == 11
    assert index.shape[1] == len(expected)
    edge_index, weight = net.build_graph(mask)
    pairs = set()
    for start, n in ((0, 3), (9, 2)):
        mods = [list(range(start + k * n, start + (k + 1) * n)) for k in range(3)]
        for m in mods:
            pairs |= set(permutations(m, 2))
        for t in range(n):
            pairs |= set(permutations([m[t] for m in mods], 2))
    assert {(int(s), int(t)) for s, t in edge_index.t()} == pairs
    assert edge_index.shape[1] == len(pairs)
    deg = torch.zeros(15).index_add_(0, edge_index[0], torch.ones(edge_index.shape[1]))
    assert torch.allclose(weight, (deg[edge_index[0]] * deg[edge_index[1]]).rsqrt())


def _published_graphsmile_edges(lengths, win_p, win_f):
    """GraphSmile's _heter_no_weight_edge, as published, for two modalities."""
    total = sum(lengths)
    uni = [list(range(total)), list(range(total, 2 * total))]
    out, start = [], 0
    for n in lengths:
        for m, o in permutations(range(2), 2):
            for j, node in enumerate(uni[m][start:start + n]):
                lo = start if win_p == -1 else max(start, start + j - win_p)
                hi = start + n if win_f == -1 else min(start + n, start + j + win_f + 1)
                out.extend(product([node], uni[o][lo:hi]))
        start += n
    return torch.tensor(out).t()


@pytest.mark.parametrize('window', [(2, 1), (-1, 0), (-1, -1)])
def test_graphsmile_edges_in_the_published_order(window):
    net = _tiny('GraphSmileBackbone', window_past=window[0], window_future=window[1])
    lengths = (5, 2, 3)
    mask = torch.arange(5)[None] < torch.tensor(lengths)[:, None]
    # the order matters: the learned edge weights are indexed by edge position
    assert torch.equal(net.build_graph(mask), _published_graphsmile_edges(lengths, *window))


# ---------------------------------------------------------------- layers vs formulas
def test_m3net_hypergraph_conv_is_pygs_with_m3nets_changes():
    from torch_geometric.nn import HypergraphConv

    from vega_mm.models.backbones import M3NetHypergraphConv
    torch.manual_seed(0)
    conv = M3NetHypergraphConv(5)
    with torch.no_grad():
        conv.bias.uniform_(-1, 1)
    x = torch.randn(7, 5)
    index = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 0, 3, 6, 1, 2],
                          [0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3]])
    w = torch.rand(4) + 0.5
    # node weights all 1: B is the hyperedge size, PyG's; PyG with Theta = identity
    pyg = HypergraphConv(5, 5)
    with torch.no_grad():
        pyg.lin.weight.copy_(torch.eye(5))
        pyg.bias.copy_(conv.bias)
    norms = conv.normalisation(index, w, torch.ones(7), 7, 4)
    assert torch.allclose(conv(x, index, *norms), F.leaky_relu(pyg(x, index, w)), atol=1e-6)
    # learned node weights: B_e = sum of its nodes' weights (the published EW_weight)
    nw = torch.rand(7) + 0.5
    H = torch.zeros(7, 4)
    H[index[0], index[1]] = 1
    D = (H * w).sum(1)
    B = (H * nw[:, None]).sum(0)
    expected = F.leaky_relu((H / D[:, None]) @ ((H / B).t() @ x) + conv.bias)
    assert torch.allclose(conv(x, index, *conv.normalisation(index, w, nw, 7, 4)), expected,
                          atol=1e-5)


def test_m3net_gated_conv_is_the_published_highconv():
    from vega_mm.models.backbones import M3NetGatedConv
    torch.manual_seed(0)
    conv = M3NetGatedConv(4)
    x = torch.randn(5, 4)
    pairs = [(0, 1), (1, 0), (0, 2), (2, 0), (3, 4), (4, 3), (1, 2), (2, 1)]
    edge_index = torch.tensor(pairs).t()
    deg = torch.zeros(5).index_add_(0, edge_index[0], torch.ones(len(pairs)))
    norm = (deg[edge_index[0]] * deg[edge_index[1]]).rsqrt()
    # published: gate = Linear(2H, 1) on [x_i; x_j], i the target
    g = torch.cat([conv.att_r.weight, conv.att_l.weight], 1)[0]
    expected = torch.zeros(5, 4)
    for (j, i), n in zip(pairs, norm):
        gate = torch.tanh(g @ torch.cat([x[i], x[j]]) + conv.att_l.bias)
        expected[i] += n * gate * x[j]
    assert torch.allclose(conv(x, edge_index, norm), expected, atol=1e-6)


@pytest.mark.parametrize('dense_max_nodes', [4096, 0], ids=['dense', 'sparse'])
def test_graphsmile_stack_is_the_published_dense_computation(dense_max_nodes):
    from vega_mm.models.backbones import HeterGraphStack
    torch.manual_seed(0)
    stack = HeterGraphStack(4, num_layers=3, dropout=0.0, max_edges=100,
                            dense_max_nodes=dense_max_nodes).eval()
    with torch.no_grad():
        stack.edge_weight.uniform_(0.5, 1.5)
    # the layers are copies of one, as published (_get_clones)
    assert torch.equal(stack.convs[0].lin.weight, stack.convs[2].lin.weight)
    edge_index = _published_graphsmile_edges((3, 2), 1, 1)
    x = torch.randn(10, 4)
    E = edge_index.shape[1]
    A = torch.zeros(10, 10)
    A[edge_index[0], edge_index[1]] = stack.edge_weight[:E].detach()
    d = A.sum(1).pow(-0.5)
    adj = d[:, None] * A * d[None]
    h, expected = x, x.clone()
    for conv, fc in zip(stack.convs, stack.fcs):
        h = adj @ (h @ conv.lin.weight.t()) + conv.bias
        expected = expected + fc(h)
    got = stack(x, edge_index)
    assert torch.allclose(got, expected, atol=1e-5)
    # the learned edge weights get the published gradient on either path
    got.square().sum().backward()
    w = stack.edge_weight.detach()[:E].clone().requires_grad_()
    A = torch.zeros(10, 10).index_put((edge_index[0], edge_index[1]), w)
    d = A.sum(1).pow(-0.5)
    adj = d[:, None] * A * d[None]
    h, ref = x, x.clone()
    for conv, fc in zip(stack.convs, stack.fcs):
        h = adj @ (h @ conv.lin.weight.t().detach()) + conv.bias.detach()
        ref = ref + fc(h)
    ref.square().sum().backward()
    assert torch.allclose(stack.edge_weight.grad[:E], w.grad, rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- GraphSmile's head
def _published_shift_labels(win, lengths, sen):
    """GraphSmile's build_match_sen_shift_label, as published."""
    out, start = [], 0
    for n in lengths:
        if win == -1:
            out.append((sen[start:start + n, None] != sen[None, start:start + n]).long()
                       .view(-1))
        else:
            ws = 0
            for i in range(math.ceil(n / win)):
                w = n % win if i == math.ceil(n / win) - 1 and n % win else win
                s = sen[start + ws:start + ws + w]
                out.append((s[:, None] != s[None]).long().view(-1))
                ws += win
        start += n
    return torch.cat(out)


def _head(sentiment, vega=False, num_classes=6, channels=6):
    cfg = dict(type='GraphSmileHead', num_classes=num_classes, in_channels=channels,
               branches=('fused', 'text'), sentiment=sentiment,
               label_head=dict(type='LinearLabelHead', dropout=0.0,
                               loss=dict(branch_weights=dict(fused=1.0, text=0.0),
                                         kd_loss_weight=0.0)))
    if vega:
        cfg.update(vega_head=dict(anchor_bank=dict(type='AnchorBank', dim=4,
                                                   random_anchors=True, num_exemplars=2,
                                                   random_seed=0)))
    else:
        cfg['vega_head'] = None
    torch.manual_seed(0)
    return MODELS.build(cfg)


def _samples(labels_per_dialogue, sentiments=None):
    from vega_mm.structures import ConversationDataSample
    out = []
    for k, labels in enumerate(labels_per_dialogue):
        s = ConversationDataSample(metainfo=dict(dialogue_id=f'd{k}'))
        s.set_gt_label(labels)
        if sentiments is not None:
            s.set_field(torch.tensor(sentiments[k]), 'gt_sentiment')
        out.append(s)
    return out


@pytest.mark.parametrize('window', [2, 3, -1])
def test_shift_pairs_follow_the_published_order(window):
    from vega_mm.models.heads.graphsmile_head import shift_pairs
    lengths = (5, 1, 3)
    sen = torch.tensor([0, 1, 1, 2, 0, 2, 1, 1, 0])
    pairs = shift_pairs(lengths, window)
    assert torch.equal((sen[pairs[0]] != sen[pairs[1]]).long(),
                       _published_shift_labels(window, lengths, sen))


def test_derived_sentiment_losses_are_the_published_ones():
    from vega_mm.models.heads.graphsmile_head import IEMOCAP_SENTIMENTS
    head = _head(dict(source='derive', emotion_to_sentiment=list(IEMOCAP_SENTIMENTS),
                      shift_window=2, loss_weights=(1.0, 0.7)))
    labels = [[0, 1, 2, 4], [5, 3, 2]]
    fused = torch.randn(7, 6)
    losses = head.loss(dict(fused=fused, text=torch.randn(7, 6)), _samples(labels))
    # published: IEMOCAP emotions {1, 3, 5} -> 0, 2 -> 1, {0, 4} -> 2
    sen = torch.tensor([2, 0, 1, 2, 0, 0, 1])
    lp_sen = F.log_softmax(head.sentiment_classifier(fused), -1)
    assert torch.allclose(losses['loss_sentiment'], F.nll_loss(lp_sen, sen), atol=1e-6)
    e = []
    for start, n in ((0, 4), (4, 3)):
        for c in range(0, n, 2):
            idx = list(range(start + c, start + min(n, c + 2)))
            e += [torch.cat([fused[i], fused[j]]) for i in idx for j in idx]
    lp_sft = F.log_softmax(head.shift_classifier(torch.stack(e)), -1)
    sft = _published_shift_labels(2, (4, 3), sen)
    assert torch.allclose(losses['loss_shift'], 0.7 * F.nll_loss(lp_sft, sft), atol=1e-6)
    emo = head.label_head.classifiers['fused'](fused)
    assert torch.allclose(losses['loss_cls'], F.cross_entropy(emo, torch.tensor(
        sum(labels, []))), atol=1e-6)


def test_shipped_sentiments_and_unknown_ones():
    """source='samples' reads gt_sentiment (MELD's annotations); -1 (e.g. MELD's
    surprise when derived) is left out of both losses."""
    head = _head(dict(source='samples', shift_window=-1, loss_weights=(0.5, 0.2)),
                 vega=True, num_classes=7)
    fused = torch.randn(5, 6)
    feats = dict(fused=fused, text=torch.randn(5, 6))
    sen = [[1, -1, 0], [2, 2]]
    losses = head.loss(feats, _samples([[0, 1, 2], [4, 4]], sen))
    assert {'loss_cls', 'loss_sentiment', 'loss_shift'} <= set(losses)
    assert any(k.startswith('loss') and k not in ('loss_cls', 'loss_sentiment', 'loss_shift')
               for k in losses)   # the anchor space's losses are there too
    target = torch.tensor([1, -1, 0, 2, 2])
    lp = F.log_softmax(head.sentiment_classifier(fused), -1)
    known = target >= 0
    assert torch.allclose(losses['loss_sentiment'],
                          0.5 * F.nll_loss(lp[known], target[known]), atol=1e-6)
    pairs = [(i, j) for s, n in ((0, 3), (3, 2)) for i in range(s, s + n)
             for j in range(s, s + n) if target[i] >= 0 and target[j] >= 0]
    x = torch.stack([torch.cat([fused[i], fused[j]]) for i, j in pairs])
    y = torch.tensor([int(target[i] != target[j]) for i, j in pairs])
    lp = F.log_softmax(head.shift_classifier(x), -1)
    assert torch.allclose(losses['loss_shift'], 0.2 * F.nll_loss(lp, y), atol=1e-6)
    with pytest.raises(ValueError, match="'d0' has none"):
        head.loss(feats, _samples([[0, 1, 2], [4, 4]]))


def test_meld_shipped_sentiments_differ_from_derived_ones_only_at_surprise():
    """MELD: the sentiments the tables ship (source='samples') and the ones derived from
    the emotions (surprise unknown) give the same losses on a dialogue without
    surprise, different ones where surprise is present; unknown ones are ignored."""
    from vega_mm.models.heads.graphsmile_head import MELD_SENTIMENTS
    kw = dict(shift_window=3, loss_weights=(0.5, 0.2))
    shipped = _head(dict(source='samples', **kw), num_classes=7)
    derived = _head(dict(source='derive', emotion_to_sentiment=list(MELD_SENTIMENTS), **kw),
                    num_classes=7)
    assert torch.equal(shipped.sentiment_classifier.weight,
                       derived.sentiment_classifier.weight)

    def losses(head, labels, sen):
        torch.manual_seed(1)
        fused = torch.randn(sum(map(len, labels)), 6)
        out = head.loss(dict(fused=fused, text=fused.clone()), _samples(labels, sen))
        return out['loss_sentiment'], out['loss_shift']

    labels = [[0, 4, 3, 6], [5, 0]]                 # neutral, joy, sadness, anger, ...
    as_meld = [[1, 2, 0, 0], [0, 1]]               # MELD's sentiments of those emotions
    for a, b in zip(losses(shipped, labels, as_meld), losses(derived, labels, None)):
        assert torch.allclose(a, b, atol=1e-6)
    with_surprise = [[0, 1, 3, 1], [5, 1]]         # surprise: positive, negative, positive
    sen = [[1, 2, 0, 0], [0, 2]]
    for a, b in zip(losses(shipped, with_surprise, sen), losses(derived, with_surprise, None)):
        assert not torch.allclose(a, b, atol=1e-4)
    # an unknown shipped sentiment (-1) is left out: the same as deriving at surprise
    unknown = [[1, -1, 0, -1], [0, -1]]
    for a, b in zip(losses(shipped, with_surprise, unknown),
                    losses(derived, with_surprise, None)):
        assert torch.allclose(a, b, atol=1e-6)


def test_training_data_without_sentiments_is_refused_before_the_first_step(tmp_path):
    """source='samples' on a feature file without sentiments: one line naming the
    file, the missing key and both fixes, before any training step."""
    from tests.zoo_utils import REPO, synthetic_config
    from vega_mm.datasets import make_synthetic_conversations
    from vega_mm.datasets.formats import save_native
    from vega_mm.engine import build_runner
    from vega_mm.utils import apply_modalities, check_config
    coll = make_synthetic_conversations((6, 3, 3))
    plain = save_native(str(tmp_path / 'no_sentiments.npz'), coll.dialogues, coll.classes,
                        coll.splits)
    cfg = synthetic_config(REPO / 'configs' / 'graphsmile' / 'graphsmile_meld_text.py',
                           tmp_path / 'work')
    assert cfg.model.head.sentiment.source == 'samples'
    for key in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[key].dataset.ann_file = plain
    runner = build_runner(apply_modalities(check_config(cfg)))
    before = {k: v.clone() for k, v in runner.model.state_dict().items()}
    with pytest.raises(ValueError) as info:
        runner.train()
    msg = str(info.value)
    assert '\n' not in msg and msg.startswith(f"{plain}: dialogue 'train_0000' has no "
                                               "'sentiments'")
    assert 're-extract' in msg and "model.head.sentiment.source='derive'" in msg
    assert runner.iter == 0 and all(torch.equal(before[k], v)
                                    for k, v in runner.model.state_dict().items())


def test_sentiment_branch_off_and_bad_settings():
    head = _head(None)
    losses = head.loss(dict(fused=torch.randn(3, 6), text=torch.randn(3, 6)),
                       _samples([[0, 1, 2]]))
    assert 'loss_sentiment' not in losses and not hasattr(head, 'shift_classifier')
    with pytest.raises(ValueError, match='one sentiment in'):
        _head(dict(source='derive', emotion_to_sentiment=[0, 1]))
    with pytest.raises(ValueError, match='shift_window'):
        _head(dict(source='samples', shift_window=0))
    with pytest.raises(ValueError, match='source must be one of'):
        _head(dict(source='csv'))


# ---------------------------------------------------------------- training
@pytest.mark.parametrize('kind', KINDS)
def test_gradients_reach_every_parameter(kind):
    net = _tiny(kind).train()
    feats, mask, speakers = _inputs()
    out = net(feats, mask, speakers)
    sum((v ** 2).sum() for v in out.values()).backward()
    # the learned per-position weights: only the positions this batch uses
    used = {'hyperedge_weight': net.build_hypergraph(mask)[1] if kind == 'M3NetBackbone'
            else None,
            'node_weight': 3 * int(mask.sum())}
    if kind == 'GraphSmileBackbone':
        E = net.build_graph(mask).shape[1]
    for name, p in net.named_parameters():
        g = p.grad
        assert g is not None, name
        if name in used:
            g = g[:used[name]]
        elif name.endswith('edge_weight'):
            g = g[:E]
            assert p.grad[E:].abs().sum() == 0, name
        assert g.abs().sum() > 0, name
